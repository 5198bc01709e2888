/** `cairn dev up` as a user runs it: in the foreground, then Ctrl-C. */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CairnEnv } from '../helpers/cairn-env.js';
import { REPO } from '../helpers/cli.js';

const env = new CairnEnv('devup');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('cairn dev up', () => {
  const started: number[] = [];
  afterAll(() => {
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('starts N peers in distinct zones, writes cluster.json, says what to run, and stops them all on Ctrl-C', async () => {
    env.init();
    const child = spawn(process.execPath, [join(REPO, 'bin', 'cairn.js'), 'dev', 'up', '--peers', '3'], {
      env: { ...process.env, ...env.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child.pid!);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await expect.poll(() => out, { timeout: 30_000 }).toMatch(/Ctrl-C stops the cluster/);
    expect(out).toMatch(/3 peers on a local DHT testnet \(bootstrap 127\.0\.0\.1:\d+\)/);
    expect(out).toMatch(/cairn volume create NAME --backend peers/);
    const control = /control plane listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    expect(control).toBeDefined();
    const nodes = await env.runAsync(['node', 'ls', '--json', '--control', control!]);
    expect(nodes.stderr).toBe('');
    expect(JSON.parse(nodes.stdout)).toEqual([]);
    const pids = [...out.matchAll(/zone-(\d)\s+pid (\d+)/g)].map((m) => Number(m[2]));
    expect([...out.matchAll(/zone-(\d)\s+pid/g)].map((m) => m[1])).toEqual(['1', '2', '3']);
    started.push(...pids);
    expect(pids.every(alive)).toBe(true);
    const config = JSON.parse(await readFile(join(env.home, 'cluster.json'), 'utf8')) as { dev: boolean; bootstrap: { host: string }[]; peers: unknown[] };
    expect(config).toMatchObject({ dev: true, bootstrap: [{ host: '127.0.0.1' }] });
    expect(config.peers).toHaveLength(3);

    const ls = await env.runAsync(['peer', 'ls', '--json']);
    expect((JSON.parse(ls.stdout) as { up: boolean; zone: string }[]).map((p) => [p.up, p.zone])).toEqual([
      [true, 'zone-1'],
      [true, 'zone-2'],
      [true, 'zone-3'],
    ]);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/cluster stopped/);
    expect(pids.some(alive)).toBe(false);
  });

  // Made here, not in the test: a CairnEnv removes its directory in hooks it registers as it is made.
  const other = new CairnEnv('devup-own');

  it('refuses to replace a cluster.json it did not write', async () => {
    other.init();
    const key = 'ab'.repeat(32);
    expect(other.run(['peer', 'add', key, '--zone', 'rack-1']).code).toBe(0);
    const r = await other.runAsync(['dev', 'up', '--peers', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cluster\.json lists peers that `cairn dev up` did not start/);
  });
});
