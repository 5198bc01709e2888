import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CairnEnv } from '../helpers/cairn-env.js';
import { tempDir } from '../helpers/tmp.js';
import { bucketObjects, selfSignedCert, startS3rver } from './fixtures.js';
import { TEST_ACCOUNT } from './s3rver.js';

const NO_DELETE = { accessKeyId: 'NODELETE', secretAccessKey: 'no-delete-secret-77', deny: ['DELETE'] };
const READ_ONLY = { accessKeyId: 'READONLY', secretAccessKey: 'read-only-secret-55', deny: ['PUT', 'DELETE'] };
const SECRETS = [TEST_ACCOUNT.secretAccessKey, NO_DELETE.secretAccessKey, READ_ONLY.secretAccessKey, 'the-wrong-secret'];

const accounts = [TEST_ACCOUNT, NO_DELETE, READ_ONLY];
const server = await startS3rver({ buckets: ['vols', 'spare'], accounts });
const skewed = await startS3rver({ buckets: ['vols'], clockOffsetMs: 10 * 60_000 });
const flaky = await startS3rver({ buckets: ['vols'], failEvery: 2 });
const closed = await startS3rver({ buckets: ['vols'] });
await closed.stop();
const tls = await startS3rver({ buckets: ['vols'], tls: selfSignedCert(tempDir('bucket-tls')) });
const spare = await startS3rver({ buckets: ['vols'] });

describe('cairn bucket', () => {
  const env = new CairnEnv('bucket-cli');
  env.init();
  const other = new CairnEnv('bucket-other');
  other.init();

  /** Credentials in variables the way a user passes them: by name. */
  const creds = (account: { accessKeyId: string; secretAccessKey: string } = TEST_ACCOUNT) => ({
    CAIRN_TEST_AK: account.accessKeyId,
    CAIRN_TEST_SK: account.secretAccessKey,
  });
  const byEnv = ['--access-key-env', 'CAIRN_TEST_AK', '--secret-key-env', 'CAIRN_TEST_SK'];
  const add = (name: string, endpoint: string, extra: string[] = [], vars: NodeJS.ProcessEnv = creds()) =>
    env.run(['bucket', 'add', name, '--endpoint', endpoint, '--bucket', 'vols', '--path-style', ...byEnv, ...extra], vars);
  const names = () => (JSON.parse(env.run(['bucket', 'ls', '--json']).stdout) as { name: string }[]).map((b) => b.name);
  const noSecrets = (r: { stdout: string; stderr: string }) => {
    for (const secret of SECRETS) expect(r.stdout + r.stderr).not.toContain(secret);
  };

  it('adds a bucket after checking it, keeps the credentials sealed, and leaves nothing in the bucket', () => {
    const r = add('main', server.endpoint, ['--prefix', 'team/a']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('ok  endpoint reachable, credentials accepted, bucket exists, listing allowed');
    expect(r.stdout).toContain('ok  put, get, list and delete allowed under prefix "team/a/"');
    expect(r.stdout).toContain('ok  no conditional writes (heads and leases as epoch objects)');
    expect(r.stdout).toMatch(/Added bucket main: volumes can live on it with --backend bucket:main/);
    noSecrets(r);
    expect(bucketObjects(server, 'vols')).toEqual([]);

    const listed = JSON.parse(env.run(['bucket', 'ls', '--json']).stdout);
    expect(listed).toEqual([
      expect.objectContaining({
        name: 'main',
        endpoint: server.endpoint,
        bucket: 'vols',
        region: 'us-east-1',
        prefix: 'team/a/',
        path_style: true,
        access_key: `…${TEST_ACCOUNT.accessKeyId.slice(-4)}`,
        credentials_from: 'environment $CAIRN_TEST_AK, $CAIRN_TEST_SK',
      }),
    ]);
    const table = env.run(['bucket', 'ls']);
    expect(table.stdout).toMatch(/^name\s+endpoint\s+bucket/);
    noSecrets(table);

    const file = readFileSync(join(env.home, 'buckets'));
    expect(file.subarray(0, 8).toString()).toBe('CAIRNBKT');
    for (const text of [TEST_ACCOUNT.secretAccessKey, TEST_ACCOUNT.accessKeyId, server.endpoint, 'team/a']) {
      expect(file.includes(text)).toBe(false);
    }
  });

  it('reads credentials from a credentials file or an AWS profile', () => {
    const file = join(env.dir('aws'), 'credentials');
    writeFileSync(
      file,
      `# made up\n[default]\naws_access_key_id = NOBODY\naws_secret_access_key = x\n\n[cairn]\naws_access_key_id = ${TEST_ACCOUNT.accessKeyId}\naws_secret_access_key = ${TEST_ACCOUNT.secretAccessKey}\n`,
    );
    const base = ['bucket', 'add'];
    const where = ['--endpoint', server.endpoint, '--bucket', 'spare', '--path-style'];
    const fromFile = env.run([...base, 'by-file', ...where, '--credentials-file', file, '--profile', 'cairn']);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const fromProfile = env.run([...base, 'by-profile', ...where, '--profile', 'cairn'], { AWS_SHARED_CREDENTIALS_FILE: file });
    expect(fromProfile.code, fromProfile.stderr).toBe(0);
    noSecrets(fromFile);
    const listed = JSON.parse(env.run(['bucket', 'ls', '--json']).stdout) as { name: string; credentials_from: string }[];
    expect(listed.find((b) => b.name === 'by-profile')?.credentials_from).toBe(`file ${file}, profile cairn`);
    const defaultProfile = env.run([...base, 'by-default', ...where, '--credentials-file', file]);
    expect(defaultProfile.code).toBe(1);
    expect(defaultProfile.stderr).toMatch(/does not know the access key/);
    const noProfile = env.run([...base, 'x', ...where, '--credentials-file', file, '--profile', 'nope']);
    expect(noProfile.code).toBe(2);
    expect(noProfile.stderr).toMatch(/no profile \[nope\] in .* \(profiles there: default, cairn\)/);
  });

  it('says plainly what is wrong, one failure at a time, exits 1 and adds nothing', () => {
    const before = names();
    const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
      ['unknown access key', [server.endpoint], creds({ accessKeyId: 'NOBODY', secretAccessKey: 'the-wrong-secret' }), /does not know the access key/],
      ['wrong secret', [server.endpoint], creds({ ...TEST_ACCOUNT, secretAccessKey: 'the-wrong-secret' }), /refused the request signature: the secret key does not match the access key/],
      ['no such bucket', [server.endpoint, '--bucket', 'missing'], creds(), /bucket "missing" at .* does not exist: create it, or fix --bucket/],
      ['access denied', [server.endpoint], creds(READ_ONLY), /put of a probe object failed: access denied to bucket "vols"/],
      ['unreachable', [closed.endpoint], creds(), /cannot connect to http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); check --endpoint and that the server is running/],
      ['TLS to a plain port', [server.endpoint.replace('http:', 'https:')], creds(), /TLS with https:\/\/127\.0\.0\.1:\d+ failed \(EPROTO\): the server does not speak TLS there/],
      ['untrusted certificate', [tls.endpoint], creds(), /TLS with .* failed \(DEPTH_ZERO_SELF_SIGNED_CERT\): its certificate is not trusted/],
      ['clock skew', [skewed.endpoint], creds(), /this machine's clock is 10\.0 minutes behind .*; set the clock \(NTP\)/],
    ];
    for (const [what, [endpoint, ...extra], vars, message] of cases) {
      const r = add('broken', endpoint, extra, vars);
      expect(r.code, `${what}: ${r.stderr}`).toBe(1);
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
      expect(r.stderr, what).toMatch(/^cairn: bucket "broken": /);
      expect(r.stderr, what).toMatch(message);
      noSecrets(r);
    }
    expect(names()).toEqual(before);
    expect(bucketObjects(server, 'vols')).toEqual([]);
    expect(bucketObjects(skewed, 'vols')).toEqual([]);
  });

  it('names a probe object it could not delete, so nothing is left behind unknown', () => {
    const r = add('no-delete', server.endpoint, ['--prefix', 'nd'], creds(NO_DELETE));
    expect(r.code).toBe(1);
    const left = /the probe object (nd\/probe-[0-9a-f]{16}) may be left in the bucket: delete it by hand/.exec(r.stderr);
    expect(left, r.stderr).not.toBeNull();
    expect(r.stderr).toMatch(/delete of a probe object failed: access denied/);
    expect(bucketObjects(server, 'vols').map((o) => o.key)).toEqual([left![1]]);
    // Cleaned up with credentials that may delete, as the message asks.
    expect(add('cleaner', server.endpoint, ['--prefix', 'nd']).code).toBe(0);
    expect(env.run(['bucket', 'rm', 'cleaner']).code).toBe(0);
    expect(bucketObjects(server, 'vols').map((o) => o.key)).toEqual([left![1]]);
  });

  it('gets through a server failing every other request, by retrying', () => {
    const r = add('flaky', flaky.flakyEndpoint);
    expect(r.code, r.stderr).toBe(0);
    expect(env.run(['bucket', 'test', 'flaky']).code).toBe(0);
    expect(bucketObjects(flaky, 'vols')).toEqual([]);
  });

  it('refuses bad flags with exit 2 and one line', () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['bucket', 'add', 'x', '--endpoint', server.endpoint, '--bucket', 'vols'], {}, /no credentials: give the credentials with --access-key-env/],
      [['bucket', 'add', 'x', '--endpoint', server.endpoint, '--bucket', 'vols', ...byEnv], { CAIRN_TEST_AK: 'a' }, /--secret-key-env names \$CAIRN_TEST_SK, which is not set/],
      [['bucket', 'add', 'x', '--endpoint', server.endpoint, '--bucket', 'vols', '--access-key-env', 'CAIRN_TEST_AK'], creds(), /go together/],
      [['bucket', 'add', 'x', '--endpoint', server.endpoint, '--bucket', 'vols', ...byEnv, '--profile', 'p'], creds(), /not both/],
      [['bucket', 'add', 'x', '--endpoint', 'http://user:pw@127.0.0.1:9', '--bucket', 'vols', ...byEnv], creds(), /must not hold credentials/],
      [['bucket', 'add', 'x', '--endpoint', 'ftp://127.0.0.1', '--bucket', 'vols', ...byEnv], creds(), /http:\/\/ or https:\/\//],
      [['bucket', 'add', 'x', '--endpoint', server.endpoint, '--bucket', 'Bad_Bucket', ...byEnv], creds(), /not an S3 bucket name/],
      [['bucket', 'add', 'x', '--endpoint', server.endpoint, '--bucket', 'vols', '--prefix', 'a/../b', ...byEnv], creds(), /--prefix "a\/\.\.\/b"/],
      [['bucket', 'add', 'Bad', '--endpoint', server.endpoint, '--bucket', 'vols', ...byEnv], creds(), /not a bucket name for cairn/],
      [['bucket', 'add', 'main', '--endpoint', server.endpoint, '--bucket', 'vols', ...byEnv], creds(), /configured already: pass --replace/],
      [['bucket', 'add', 'x', '--bucket', 'vols', ...byEnv], creds(), /required option '--endpoint <url>'/],
    ];
    const before = env.run(['bucket', 'ls', '--json']).stdout;
    for (const [args, vars, message] of cases) {
      const r = env.run(args, vars);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    expect(env.run(['bucket', 'ls', '--json']).stdout).toBe(before);
  });

  it('test passes on a good bucket and fails plainly once its server is gone; rm forgets it', async () => {
    expect(add('spare', spare.endpoint).code).toBe(0);
    const ok = env.run(['bucket', 'test', 'spare', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ name: 'spare', ok: true, conditional_writes: false });
    await spare.stop();
    const down = env.run(['bucket', 'test', 'spare']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot connect to .* \(ECONNREFUSED\)/);
    expect(env.run(['bucket', 'test', 'ghost']).stderr).toMatch(/no bucket named "ghost"/);
    expect(env.run(['bucket', 'rm', 'spare', '--force']).code).toBe(0);
    expect(names()).not.toContain('spare');
  });

  it('will not forget a bucket volumes live on, unless forced', () => {
    expect(env.run(['volume', 'create', 'kept', '--backend', 'bucket:main']).code).toBe(0);
    const refused = env.run(['bucket', 'rm', 'main']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/volumes live on bucket main: kept; remove them first, or pass --force/);
    expect(names()).toContain('main');
    expect(env.run(['volume', 'rm', 'kept', '--yes']).code).toBe(0);
    expect(env.run(['bucket', 'rm', 'main']).code).toBe(0);
    expect(names()).not.toContain('main');
  });

  it('refuses a damaged buckets file or one sealed by another keyring, without touching it', () => {
    const path = join(env.home, 'buckets');
    const good = readFileSync(path);
    writeFileSync(join(other.home, 'buckets'), good);
    const foreign = other.run(['bucket', 'ls']);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/is not a usable buckets file: it was sealed by another keyring, or altered/);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1] ^= 1;
    writeFileSync(path, flipped);
    expect(env.run(['bucket', 'ls']).stderr).toMatch(/sealed by another keyring, or altered/);
    writeFileSync(path, Buffer.concat([Buffer.from('CAIRNBKT'), Buffer.from([9])]));
    expect(env.run(['bucket', 'ls']).stderr).toMatch(/format version 9; this cairn reads version 1/);
    writeFileSync(path, good);
    expect(env.run(['bucket', 'ls']).code).toBe(0);
  });
});
