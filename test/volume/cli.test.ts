import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CairnEnv } from '../helpers/cairn-env.js';
import { FileStore } from '../../src/store/index.js';

describe('cairn volume', () => {
  const env = new CairnEnv('volume-cli');
  env.init();

  it('create, ls, info and rm, as a user types them', () => {
    expect(env.run(['volume', 'ls']).stdout).toMatch(/No volumes yet/);
    const made = env.run(['volume', 'create', 'web', '--code', '3+2', '--block-size', '512KiB', '--json']);
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ name: 'web', code: '3+2', block_size: 524288, backend: 'local' });
    expect(env.run(['volume', 'create', 'db']).stdout).toMatch(/Created volume db \(4\+2, 1\.0 MiB blocks/);
    const listed = JSON.parse(env.run(['volume', 'ls', '--json']).stdout) as { name: string }[];
    expect(listed.map((v) => v.name).sort()).toEqual(['db', 'web']);
    const info = JSON.parse(env.run(['volume', 'info', 'web', '--json']).stdout);
    expect(info).toMatchObject({ name: 'web', code: '3+2', mounted_by: null });
    const rm = env.run(['volume', 'rm', 'web', '--yes']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(env.run(['volume', 'ls']).stdout).not.toMatch(/web/);
  });

  it('a second machine with only the keyring sees the same volumes', () => {
    env.run(['volume', 'create', 'shared']);
    const other = env.otherMachine('home-2');
    const listed = env.run(['volume', 'ls', '--json'], other);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((v) => v.name)).toContain('shared');
  });

  it('refuses bad input with one clear line and exit 2, and changes nothing', () => {
    const before = env.run(['volume', 'ls', '--json']).stdout;
    const cases: [string[], RegExp][] = [
      [['volume', 'create', 'Bad Name'], /not a volume name/],
      [['volume', 'create', 'x', '--code', '4-2'], /not a code/],
      [['volume', 'create', 'x', '--code', '200+100'], /not a code/],
      [['volume', 'create', 'x', '--block-size', '3MiB'], /power of two/],
      [['volume', 'create', 'x', '--backend', 's3'], /unknown backend "s3"/],
      [['volume', 'rm', 'shared'], /confirm with --yes/],
    ];
    for (const [args, message] of cases) {
      const r = env.run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    expect(env.run(['volume', 'ls', '--json']).stdout).toBe(before);
  });

  it('names that exist or do not are clear errors (exit 1)', () => {
    env.run(['volume', 'create', 'dup']);
    const dup = env.run(['volume', 'create', 'dup']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/a volume named "dup" already exists/);
    const missing = env.run(['volume', 'info', 'ghost']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no volume named "ghost"/);
    expect(env.run(['mount', 'ghost', env.dir('m')]).stderr).toMatch(/no volume named "ghost"/);
  });

  it('a wrong passphrase changes nothing', () => {
    const r = env.run(['volume', 'create', 'never'], { CAIRN_PASSPHRASE: 'wrong' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wrong passphrase/);
    expect(env.run(['volume', 'ls']).stdout).not.toMatch(/never/);
  });

  it('rm deletes what a volume stored: its stripes, and the head and lease on every store', async () => {
    env.run(['volume', 'create', 'gone']);
    const { id } = JSON.parse(env.run(['volume', 'info', 'gone', '--json']).stdout) as { id: string };
    const m = await env.mount('gone', env.dir('mnt-gone'));
    writeFileSync(join(m.dir, 'f'), randomBytes(3 << 20));
    await m.stop();
    const files = () => readdirSync(env.stores, { recursive: true, encoding: 'utf8' }).filter((f) => /^(heads|leases)\//.test(f.split('/').slice(1).join('/')));
    const records = () => files().filter((f) => f.endsWith(id));
    // Shard files and packed shards alike, as each store counts them.
    const shards = async () => {
      let count = 0;
      for (const name of readdirSync(env.stores)) {
        const store = await FileStore.open(join(env.stores, name));
        count += (await store.stat()).shards;
        await store.close();
      }
      return count;
    };
    expect(records().length).toBe(12);
    const before = await shards();
    const rm = env.run(['volume', 'rm', 'gone', '--yes']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toMatch(/Removed volume gone \(\d+ stripes deleted\)/);
    expect(records()).toEqual([]);
    // 3 MiB of data and the metadata: at least 4 stripes of 6 shards gone; other volumes' records stay.
    expect(before - (await shards())).toBeGreaterThanOrEqual(24);
    expect(files().length).toBeGreaterThan(0);
  });

  it('rm refuses a volume that is mounted read-write', async () => {
    env.run(['volume', 'create', 'busy']);
    const m = await env.mount('busy', env.dir('mnt-busy'));
    const r = env.run(['volume', 'rm', 'busy', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mounted read-write/);
    await m.stop();
  });
});

describe('cairn run (real runc containers)', () => {
  const env = new CairnEnv('run');
  env.init();
  env.run(['volume', 'create', 'data']);

  it('one container writes /data, the next reads it back; exit codes pass through', async () => {
    const w = env.run(['run', '--volume', 'data:/data', '--', 'sh', '-c', 'echo from-container > /data/hello; exit 3']);
    expect(w.stderr).toBe('');
    expect(w.code).toBe(3);
    const r = env.run(['run', '--volume', 'data:/data', '--', 'cat', '/data/hello']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('from-container\n');
    const m = await env.mount('data', env.dir('mnt-data'), ['--read-only']);
    expect(readFileSync(join(m.dir, 'hello'), 'utf8')).toBe('from-container\n');
    await m.stop();
  });

  it('a read-only container cannot write (EROFS)', () => {
    const r = env.run(['run', '--volume', 'data:/data:ro', '--', 'sh', '-c', 'echo x > /data/y']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);
    const r2 = env.run(['run', '--read-only', '--volume', 'data:/data', '--', 'touch', '/data/z']);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(/Read-only file system/);
  });

  it('bad --volume values are usage errors', () => {
    const r = env.run(['run', '--volume', 'data', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected NAME:\/absolute\/path/);
  });
});
