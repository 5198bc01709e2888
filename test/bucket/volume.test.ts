import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CairnEnv, sh } from '../helpers/cairn-env.js';
import { bucketObjects, startS3rver } from './fixtures.js';
import { TEST_ACCOUNT, type S3rverProcess } from './s3rver.js';

const one = await startS3rver({ buckets: ['vols', 'doomed'] });
const three = [await startS3rver({ buckets: ['tri-data'] }), await startS3rver({ buckets: ['tri-data'] }), await startS3rver({ buckets: ['tri-data'] })];
const flaky = await startS3rver({ buckets: ['vols'], failEvery: 2 });

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const CREDS = { CAIRN_TEST_AK: TEST_ACCOUNT.accessKeyId, CAIRN_TEST_SK: TEST_ACCOUNT.secretAccessKey };

/** Writes a file and fsyncs it from another process, as an application would. */
function writeSynced(path: string, bytes: Uint8Array): void {
  writeFileSync(path, bytes);
  const r = sh(`python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)" ${path}`);
  expect(r.code, r.stderr).toBe(0);
}

/** Shards of one bucket, by id. */
const shardKeys = (server: S3rverProcess, bucket: string) =>
  bucketObjects(server, bucket)
    .map((o) => o.key)
    .filter((k) => /\/shards\/[0-9a-f]{64}$/.test(k));

describe('volumes on buckets (real FUSE, s3rver over HTTP)', () => {
  const env = new CairnEnv('bucket-volume');
  env.init();
  const addBucket = (name: string, endpoint: string, bucket: string) => {
    const r = env.run(
      ['bucket', 'add', name, '--endpoint', endpoint, '--bucket', bucket, '--prefix', 'cairn', '--path-style', '--access-key-env', 'CAIRN_TEST_AK', '--secret-key-env', 'CAIRN_TEST_SK'],
      CREDS,
    );
    if (r.code !== 0) throw new Error(r.stderr);
  };
  addBucket('one', one.endpoint, 'vols');
  three.forEach((server, i) => addBucket(`b${i + 1}`, server.endpoint, 'tri-data'));
  addBucket('flaky', flaky.flakyEndpoint, 'vols');
  addBucket('doomed', one.endpoint, 'doomed');

  it('one bucket, 1+0: files written through a mount leave only ciphertext there, and come back on another machine', async () => {
    const made = env.run(['volume', 'create', 'docs', '--backend', 'bucket:one', '--block-size', '256KiB', '--json']);
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ code: '1+0', backend: 'bucket:one' });

    const marker = 'CAIRN-BUCKET-MARKER-5e1f';
    const big = randomBytes(3 * 2 ** 20 + 123);
    const dir = env.dir('mnt-docs');
    const m = await env.mount('docs', dir);
    writeSynced(join(dir, 'merger-plans-q3.txt'), Buffer.from(`${marker}\n`.repeat(4000)));
    mkdirSync(join(dir, 'board-minutes'));
    writeSynced(join(dir, 'board-minutes', 'big.bin'), big);
    expect(await m.stop()).toBe(0);

    const objects = bucketObjects(one, 'vols');
    expect(objects.length).toBeGreaterThan(3);
    for (const { key, bytes } of objects) {
      expect(key).toMatch(/^cairn\/(layout|shards\/[0-9a-f]{64}|volumes\/[0-9a-f]{32}\/(head\/\d{16}-\d{16}-[0-9a-f]{16}|lease\/\d{16}-[0-9a-f]{32}))$/);
      for (const needle of [marker, 'merger-plans', 'board-minutes', 'big.bin', 'docs']) {
        expect(bytes.includes(needle), `${needle} in ${key}`).toBe(false);
      }
    }

    // Another machine: a fresh $CAIRN_HOME with the keyring and the buckets file, nothing else.
    const other = env.otherMachine('home-2');
    copyFileSync(join(env.home, 'buckets'), join(other.CAIRN_HOME!, 'buckets'));
    const dir2 = env.dir('mnt-docs-2');
    await env.mount('docs', dir2, ['--read-only'], other);
    expect(readFileSync(join(dir2, 'merger-plans-q3.txt'), 'utf8')).toBe(`${marker}\n`.repeat(4000));
    expect(sha(readFileSync(join(dir2, 'board-minutes', 'big.bin')))).toBe(sha(big));
  });

  it('three buckets, 2+1: one server stopped, reads and writes go on; started again, repair restores full redundancy', async () => {
    const made = env.run(['volume', 'create', 'tri', '--backend', 'bucket:b1,b2,b3', '--block-size', '256KiB', '--json']);
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ code: '2+1', backend: 'bucket:b1,b2,b3' });
    const before = randomBytes(2 * 2 ** 20 + 7);
    const during = randomBytes(2 * 2 ** 20 + 11);
    const dir = env.dir('mnt-tri');

    let m = await env.mount('tri', dir);
    writeSynced(join(dir, 'before.bin'), before);
    expect(await m.stop()).toBe(0);
    const counts = () => three.map((s) => shardKeys(s, 'tri-data').length);
    const full = counts();
    expect(full[0]).toBeGreaterThan(8);
    expect(new Set(full).size).toBe(1);

    await three[1].stop();
    m = await env.mount('tri', dir);
    expect(sha(readFileSync(join(dir, 'before.bin')))).toBe(sha(before));
    writeSynced(join(dir, 'during.bin'), during);
    expect(sha(readFileSync(join(dir, 'during.bin')))).toBe(sha(during));
    expect(await m.stop()).toBe(0);
    const degraded = counts();
    expect(degraded[1]).toBe(full[1]);
    expect(degraded[0]).toBeGreaterThan(full[0]);

    await three[1].restart();
    const repaired = env.run(['repair', 'tri', '--json']);
    expect(repaired.code, repaired.stderr).toBe(0);
    const report = JSON.parse(repaired.stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ unrecoverable: 0, pending: 0 });
    expect(report.shardsRebuilt).toBeGreaterThan(0);
    expect(report.repaired).toBe(report.degraded);
    const after = counts();
    expect(after[1]).toBe(after[0]);
    expect(after[2]).toBe(after[0]);
    const again = JSON.parse(env.run(['repair', 'tri', '--json']).stdout.trim().split('\n').at(-1)!);
    expect(again).toMatchObject({ degraded: 0, shardsRebuilt: 0 });

    // The rebuilt shards are real: with another bucket gone, every byte still reads.
    await three[0].stop();
    try {
      const ro = env.dir('mnt-tri-ro');
      await env.mount('tri', ro, ['--read-only']);
      expect(sha(readFileSync(join(ro, 'before.bin')))).toBe(sha(before));
      expect(sha(readFileSync(join(ro, 'during.bin')))).toBe(sha(during));
    } finally {
      await env.cleanupMounts();
      await three[0].restart();
    }
  });

  it('a mount says plainly when its bucket is unreachable or refuses the credentials, and loses nothing', async () => {
    expect(env.run(['volume', 'create', 'kept', '--backend', 'bucket:one']).code).toBe(0);
    const dir = env.dir('mnt-kept');
    const m = await env.mount('kept', dir);
    writeSynced(join(dir, 'kept.txt'), Buffer.from('still here'));
    expect(await m.stop()).toBe(0);

    await one.stop();
    const down = env.run(['mount', 'kept', dir]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/bucket:one .*cannot connect to http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); check --endpoint and that the server is running/);

    // The provider rotated the key: the one stored here is no longer known.
    await one.restart({ accounts: [{ accessKeyId: 'ROTATED', secretAccessKey: 'rotated-secret-1' }] });
    const refused = env.run(['mount', 'kept', dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/does not know the access key/);
    expect(refused.stderr).not.toContain(TEST_ACCOUNT.secretAccessKey);

    await one.stop();
    await one.restart({ accounts: [TEST_ACCOUNT] });
    const back = await env.mount('kept', dir);
    expect(readFileSync(join(dir, 'kept.txt'), 'utf8')).toBe('still here');
    await back.stop();
  });

  it('a bucket deleted at the provider: mount and volume ls say it does not exist', () => {
    expect(env.run(['volume', 'create', 'gone', '--backend', 'bucket:doomed']).code).toBe(0);
    rmSync(join(one.directory, 'doomed'), { recursive: true });
    const mount = env.run(['mount', 'gone', env.dir('mnt-gone')]);
    expect(mount.code).toBe(1);
    expect(mount.stderr).toMatch(/unreachable: bucket:doomed \(.*bucket "doomed" at http:\/\/127\.0\.0\.1:\d+ does not exist: create it, or fix --bucket/);
    const listed = env.run(['volume', 'ls']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toMatch(/warning: the bucket:doomed catalog is unreachable .*does not exist/);
    expect(listed.stdout).toMatch(/kept/);
  });

  it('a bucket failing every other request: writes and reads succeed through retries', async () => {
    expect(env.run(['volume', 'create', 'shaky', '--backend', 'bucket:flaky', '--block-size', '256KiB']).code).toBe(0);
    const files = Array.from({ length: 5 }, (_, i) => randomBytes(300_000 + i));
    const dir = env.dir('mnt-shaky');
    let m = await env.mount('shaky', dir);
    files.forEach((bytes, i) => writeSynced(join(dir, `f${i}`), bytes));
    expect(await m.stop()).toBe(0);
    m = await env.mount('shaky', dir);
    files.forEach((bytes, i) => expect(sha(readFileSync(join(dir, `f${i}`)))).toBe(sha(bytes)));
    await m.stop();
  });
});
