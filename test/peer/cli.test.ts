/** The peer commands' bad inputs: each a clear error and a non-zero exit, nothing changed. */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CairnEnv } from '../helpers/cairn-env.js';

const env = new CairnEnv('peer-cli');
env.init();
const KEY = 'cd'.repeat(32);

describe('cairn peer: configuration and bad input', () => {
  it('invite writes a 0600 join file with the topic, the member key and the bootstrap nodes', async () => {
    const out = join(env.dir('invite'), 'join.json');
    const r = env.run(['peer', 'invite', '--out', out, '--bootstrap', '127.0.0.1:40001']);
    expect(r.stderr).toBe('');
    const join_ = JSON.parse(await readFile(out, 'utf8')) as { version: number; topic: string; members: string[]; bootstrap: unknown[] };
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(join_.version).toBe(1);
    expect(join_.topic).toMatch(/^[0-9a-f]{64}$/);
    expect(join_.members).toHaveLength(1);
    expect(join_.bootstrap).toEqual([{ host: '127.0.0.1', port: 40001 }]);
    expect(env.run(['peer', 'invite', '--out', out, '--bootstrap', 'nohost']).stderr).toMatch(/"nohost" is not host:port/);
  });

  it('add, ls without a network, rm', async () => {
    expect(env.run(['peer', 'add', 'xyz', '--zone', 'a']).stderr).toMatch(/"xyz" is not a peer key/);
    expect(env.run(['peer', 'add', KEY, '--zone', 'rack-1']).stdout).toMatch(/added peer cdcdcdcd/);
    const again = env.run(['peer', 'add', KEY, '--zone', 'rack-1']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already in the cluster/);
    const config = JSON.parse(await readFile(join(env.home, 'cluster.json'), 'utf8')) as { peers: unknown[] };
    expect(config.peers).toEqual([{ key: KEY, zone: 'rack-1' }]);
    expect(env.run(['peer', 'rm', 'ffff']).stderr).toMatch(/no peer ffff/);
    expect(env.run(['peer', 'rm', KEY.slice(0, 8)]).stdout).toMatch(/removed peer/);
  });

  // Made here, not in the tests: a CairnEnv removes its directory in hooks it registers as it is made.
  const fresh = new CairnEnv('peer-cli-none');
  const broken = new CairnEnv('peer-cli-broken');

  it('a volume on peers needs peers and a bootstrap, and says so', async () => {
    fresh.init();
    const none = fresh.run(['volume', 'create', 'v', '--backend', 'peers']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no peers configured/);
    expect(fresh.run(['peer', 'add', KEY, '--zone', 'z']).code).toBe(0);
    const noBoot = fresh.run(['volume', 'create', 'v', '--backend', 'peers']);
    expect(noBoot.stderr).toMatch(/no DHT bootstrap nodes configured/);
    expect(fresh.run(['volume', 'ls'], { CAIRN_BOOTSTRAP: 'bad' }).stderr).toMatch(/CAIRN_BOOTSTRAP: "bad" is not host:port/);
  });

  it('refuses a cluster.json that is not one', async () => {
    broken.init();
    await writeFile(join(broken.home, 'cluster.json'), '{"version":1,"bootstrap":[],"peers":[{"key":"short"}]}');
    const r = broken.run(['peer', 'add', KEY, '--zone', 'z']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a peer entry needs a 64-hex key and a zone/);
    await writeFile(join(broken.home, 'cluster.json'), 'not json');
    expect(broken.run(['volume', 'ls']).stderr).toMatch(/cluster\.json is not JSON/);
  });

  it('peer start needs a join file the first time, and refuses a bad one', async () => {
    const dir = env.dir('peer-dir');
    const first = env.run(['peer', 'start', '--dir', join(dir, 'p')]);
    expect(first.code).toBe(2);
    expect(first.stderr).toMatch(/holds no peer yet: give --join-file/);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"version":1,"topic":"00","members":[],"bootstrap":[]}');
    expect(env.run(['peer', 'start', '--dir', join(dir, 'p'), '--join-file', bad]).stderr).toMatch(/is not a Cairn join file: bad topic/);
    expect(env.run(['peer', 'start', '--dir', join(dir, 'p'), '--join-file', join(dir, 'missing.json')]).stderr).toMatch(/cannot read the join file/);
  });
});
