// `cairn app|node|control` as a user types them (the built CLI: run `npx tsc -p .` first).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { type ControlProcess, startControlProcess } from './control-process.js';

const ROOT = tempDir('control-cli');
const file = (name: string, text: string) => {
  const path = join(ROOT, name);
  writeFileSync(path, text);
  return path;
};

const GOOD = `name: web
command: httpd -f -p $PORT
ports:
  - name: www
    protocol: http
    tls: passthrough
`;

describe('cairn app, node and control: bad input', () => {
  const cases: [string, string[], RegExp][] = [
    ['a spec file that does not exist', ['app', 'deploy', join(ROOT, 'missing.yaml')], /cannot read .*missing\.yaml: ENOENT/],
    ['a spec with a wrong field', ['app', 'deploy', file('bad.yaml', `${GOOD}replicas: two\n`)], /bad\.yaml: replicas: must be a whole number from 0 to 64/],
    ['a spec that is not YAML', ['app', 'deploy', file('broken.yaml', 'name: [web')], /broken\.yaml: not valid YAML or JSON/],
    ['a control URL that is not one', ['app', 'ls', '--control', 'ftp://x'], /"ftp:\/\/x" is not a control plane URL/],
    ['node start without --state', ['node', 'start'], /required option '--state <dir>'/],
    ['malformed labels', ['node', 'start', '--state', ROOT, '--labels', 'disk'], /label "disk" is not key=value/],
    ['a bad zone', ['node', 'start', '--state', ROOT, '--zone', 'Zone 1'], /"Zone 1" is not a zone name/],
    ['a bad cpu count', ['node', 'start', '--state', ROOT, '--cpu', 'many'], /"many" is not a number of cores/],
    ['a port out of range', ['control', 'start', '--state', ROOT, '--port', '99999'], /"99999" is not a port number/],
    ['a bad domain', ['control', 'start', '--state', ROOT, '--domain', 'Not A Domain'], /is not a domain name/],
  ];
  for (const [what, args, message] of cases) {
    it(`refuses ${what} (exit 2, one line)`, () => {
      const r = cairn(args, { env: { CAIRN_CONTROL: 'http://127.0.0.1:1' } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }

  it('an unreachable control plane is a clear error (exit 1)', () => {
    const r = cairn(['app', 'ls', '--control', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the control plane at http:\/\/127\.0\.0\.1:1 .*cairn control start/);
  });
});

describe('cairn app and node against a control plane', () => {
  // Its own process: the CLI helper blocks this one while a command runs.
  let plane: ControlProcess;
  beforeAll(async () => {
    plane = await startControlProcess(join(ROOT, 'cp'));
  });
  afterAll(() => plane?.stop());
  const run = (args: string[]) => cairn(args, { env: { CAIRN_CONTROL: plane.url } });

  it('deploy, ls, logs and rm', () => {
    expect(run(['node', 'ls']).stdout).toMatch(/No nodes yet/);
    const spec = file('web.yaml', GOOD);
    const deployed = run(['app', 'deploy', spec]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/^deployed web version 1 \(id [a-z0-9]{6}\)\n$/);
    expect(run(['app', 'deploy', spec]).stdout).toMatch(/web is unchanged \(version 1\)/);
    const ls = run(['app', 'ls']);
    expect(ls.stdout).toMatch(/^APP\s+ID\s+VERSION\s+HEALTHY\s+NAMES\nweb\s+[a-z0-9]{6}\s+1\s+0\/1/);
    expect(ls.stdout).toMatch(/web-0-1\s+1\s+-\s+pending\s+no\s+-\s+0\s+no ready nodes/);
    const json = JSON.parse(run(['app', 'ls', '--json']).stdout) as { name: string; spec: { command: string[] } }[];
    expect(json.map((a) => [a.name, a.spec.command])).toEqual([['web', ['sh', '-c', 'httpd -f -p $PORT']]]);
    const logs = run(['app', 'logs', 'web']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe('');
    expect(run(['app', 'rm', 'web']).stdout).toMatch(/removed web/);
    const ghost = run(['app', 'rm', 'web']);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/no app named "web"/);
  });

  it('deploy --wait gives up with what is wrong', () => {
    const r = run(['app', 'deploy', file('wait.yaml', GOOD.replace('name: web', 'name: waiter')), '--wait', '--timeout', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/waiter version 1 is not healthy after 1 s: waiter-0-\w+: pending \(no ready nodes\)/);
  });
});

describe('cairn control start', () => {
  it('serves until SIGTERM, then exits 0', async () => {
    const plane = await startControlProcess(join(ROOT, 'cp-proc'));
    try {
      expect(await (await fetch(`${plane.url}/v1/health`)).json()).toEqual({ ok: true });
    } finally {
      expect(await plane.stop()).toBe(0);
    }
  });
});
