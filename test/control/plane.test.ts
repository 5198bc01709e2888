// The control plane's HTTP API, in this process, over real HTTP on 127.0.0.1.
// Node agents are played by the test through the same API they use; the real
// agents are exercised in test/scheduler/failover.test.ts.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  API_VERSION,
  type AppView,
  ControlClient,
  type RegisterRequest,
  type RunningControlPlane,
  startControlPlane,
} from '../../src/control/index.js';
import { UsageError } from '../../src/errors/index.js';
import { parseRouteTable } from '../../src/router/index.js';
import { tempDir } from '../helpers/tmp.js';

process.env.CAIRN_LOG = 'silent';

const ROOT = tempDir('control');
const running: RunningControlPlane[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.close()));
});

let dirs = 0;
async function start(options: Partial<Parameters<typeof startControlPlane>[0]> = {}) {
  const plane = await startControlPlane({ dir: join(ROOT, `cp-${++dirs}`), port: 0, ...options });
  running.push(plane);
  return { plane, client: new ControlClient(plane.url) };
}

function agent(name: string, zone: string, extra: Partial<RegisterRequest> = {}): RegisterRequest {
  return {
    api: API_VERSION,
    id: randomBytes(16).toString('hex'),
    name,
    zone,
    labels: {},
    capacity: { cpu: 2, memoryBytes: 2 ** 30 },
    address: '127.0.0.1',
    ...extra,
  };
}

const web = { name: 'web', command: 'httpd -f -p $PORT', replicas: 2, ports: [{ name: 'www', protocol: 'http', tls: 'passthrough' }] };

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function rejection(p: Promise<unknown>): Promise<Error & { status?: number; code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('the control plane API', () => {
  it('listens on 127.0.0.1 only and answers health', async () => {
    const { plane, client } = await start();
    expect(new URL(plane.url).hostname).toBe('127.0.0.1');
    expect(await client.health()).toEqual({ ok: true });
  });

  it('deploys, lists, redeploys and removes apps', async () => {
    const { client } = await start();
    expect(await client.apps()).toEqual([]);
    const first = await client.deploy(web);
    expect(first.changed).toBe(true);
    expect(first.app).toMatchObject({ name: 'web', version: 1 });
    expect(first.app.id).toMatch(/^[a-z0-9]{6}$/);
    // No nodes yet: pending instances, and the reason.
    expect(first.app.instances.map((i) => i.pending)).toEqual(['no ready nodes', 'no ready nodes']);

    expect((await client.deploy(web)).changed).toBe(false);
    const scaled = await client.deploy({ ...web, replicas: 3 });
    expect(scaled.app).toMatchObject({ version: 1, id: first.app.id });
    expect(scaled.app.instances).toHaveLength(3);
    const changed = await client.deploy({ ...web, replicas: 3, env: { V: '2' } });
    expect(changed.app).toMatchObject({ version: 2, id: first.app.id });

    expect((await client.apps()).map((a) => a.name)).toEqual(['web']);
    await client.removeApp('web');
    expect(await client.apps()).toEqual([]);
    const missing = await rejection(client.removeApp('web'));
    expect(missing).toMatchObject({ status: 404, code: 'control.no-such-app' });
    expect(missing.message).toMatch(/no app named "web"/);
  });

  it('refuses bad specs and conflicts with clear errors, and keeps what it had', async () => {
    const { client } = await start();
    await client.deploy({ ...web, name: 'db', replicas: 1, ports: [{ name: 'pg', protocol: 'udp', listenPort: 5432 }], volumes: [{ name: 'pg', path: '/data' }] });
    const before = await client.apps();

    const bad = await rejection(client.deploy({ ...web, replicas: 'two' }));
    expect(bad).toBeInstanceOf(UsageError);
    expect(bad.message).toMatch(/replicas: must be a whole number/);

    const writer = await rejection(client.deploy({ ...web, name: 'other', replicas: 1, volumes: [{ name: 'pg', path: '/pg' }] }));
    expect(writer).toMatchObject({ status: 409, code: 'control.conflict' });
    expect(writer.message).toMatch(/volume "pg" is already mounted read-write by app "db"/);
    // Reading it alongside is fine.
    await client.deploy({ ...web, name: 'reader', replicas: 2, volumes: [{ name: 'pg', path: '/pg', readOnly: true }] });

    const port = await rejection(client.deploy({ ...web, name: 'dns', replicas: 1, ports: [{ name: 'd', protocol: 'udp', listenPort: 5432 }] }));
    expect(port).toMatchObject({ status: 409 });
    expect(port.message).toMatch(/router port 5432 is already used by app "db"/);

    const noCa = await rejection(client.deploy({ ...web, name: 'secure', ports: [{ name: 'www', protocol: 'http' }] }));
    expect(noCa).toBeInstanceOf(UsageError);
    expect(noCa.message).toMatch(/tls: terminate needs cert and key files/);

    expect((await client.apps()).map((a) => a.name)).toEqual(['db', 'reader']);
    expect((await client.apps()).find((a) => a.name === 'db')).toEqual(before.find((a) => a.name === 'db'));
  });

  it('answers malformed requests with 4xx, not crashes', async () => {
    const { plane, client } = await start();
    const post = (path: string, body: string) =>
      fetch(`${plane.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect((await post('/v1/apps', '{"name": ')).status).toBe(400);
    expect((await post('/v1/apps', JSON.stringify('x'.repeat(5 << 20)))).status).toBe(413);
    expect((await fetch(`${plane.url}/v1/nope`)).status).toBe(404);
    expect((await fetch(`${plane.url}/v1/routes`, { method: 'DELETE' })).status).toBe(405);
    expect((await post('/v1/nodes', JSON.stringify({ ...agent('n', 'z'), id: 'short' }))).status).toBe(400);
    expect((await post('/v1/nodes', JSON.stringify({ ...agent('n', 'z'), capacity: { cpu: 0 } }))).status).toBe(400);
    expect((await post(`/v1/nodes/${'0'.repeat(32)}/heartbeat`, '{"instances": []}')).status).toBe(404);
    const body = (await (await post('/v1/apps', '[]')).json()) as { error: { code: string; message: string } };
    expect(body.error.message).toMatch(/the spec: must be a mapping/);
    expect(await client.health()).toEqual({ ok: true });
  });

  it('places instances on registered nodes, spread over zones, and publishes routes the router accepts', async () => {
    const { client } = await start();
    const a = agent('a', 'z1');
    const b = agent('b', 'z2');
    await client.register(a);
    await client.register(b);
    await client.deploy(web);
    const [fromA, fromB] = [await client.heartbeat(a.id, { instances: [], logs: [] }), await client.heartbeat(b.id, { instances: [], logs: [] })];
    expect(fromA.instances).toHaveLength(1);
    expect(fromB.instances).toHaveLength(1);
    expect(fromA.instances[0]).toMatchObject({ app: 'web', version: 1, takeover: false, spec: { name: 'web', replicas: 2 } });

    const ports = [18001, 18002];
    for (const [i, node] of [a, b].entries()) {
      const id = (i === 0 ? fromA : fromB).instances[0].id;
      await client.heartbeat(node.id, {
        instances: [{ id, state: 'running', healthy: i === 0, ports: { www: ports[i] }, restarts: 0, volumes: [] }],
        logs: [{ instance: id, stream: 'stdout', atMs: Date.now(), text: `hello from ${node.name}` }],
      });
    }
    const table = await client.routes();
    // The router's own parser is the judge of the contract.
    const parsed = parseRouteTable(table, 'control plane');
    const appId = (await client.app('web')).id;
    expect(parsed.domain).toBe('cairn.test');
    expect(parsed.routes.map((r) => r.host)).toEqual([`web-${appId}.z1.cairn.test`, `web-${appId}.z2.cairn.test`]);
    for (const r of parsed.routes) {
      expect(r.kind).toBe('tls-passthrough');
      expect(r.instances.map((i) => [i.port, i.healthy]).sort()).toEqual([
        [18001, true],
        [18002, false],
      ]);
    }
    const logs = await client.logs('web');
    expect(logs.lines.map((l) => l.text).sort()).toEqual(['hello from a', 'hello from b']);
    expect((await client.logs('web', logs.next)).lines).toEqual([]);
    const nodes = await client.nodes();
    expect(nodes.map((n) => [n.name, n.state, n.instances, n.used.cpu])).toEqual([
      ['a', 'ready', 1, 0.1],
      ['b', 'ready', 1, 0.1],
    ]);
  });

  it('tls-terminate routes carry the certificate the issuer made for their host', async () => {
    const issued: string[] = [];
    const { client } = await start({
      issueCertificate: async (host) => {
        issued.push(host);
        return { cert: `/certs/${host}.crt`, key: `/certs/${host}.key` };
      },
    });
    await client.register(agent('a', 'z1'));
    const { app } = await client.deploy({ ...web, ports: [{ name: 'www', protocol: 'http' }] });
    const host = `web-${app.id}.z1.cairn.test`;
    const table = await client.routes();
    expect(table.routes).toEqual([expect.objectContaining({ host, kind: 'tls-terminate', cert: `/certs/${host}.crt`, key: `/certs/${host}.key` })]);
    await client.routes();
    expect(issued).toEqual([host]);
  });

  it('a node that stops heartbeating is lost; its instance moves with a takeover', async () => {
    const { client } = await start({ nodeTimeoutMs: 600 });
    const a = agent('a', 'z1');
    const b = agent('b', 'z2');
    await client.register(a);
    await client.deploy({ ...web, replicas: 1, volumes: [{ name: 'pg', path: '/data' }] });
    const first = (await client.heartbeat(a.id, { instances: [], logs: [] })).instances[0];
    await client.register(b);
    // Only b reports from now on.
    const moved = await until('the instance to move to b', async () => {
      const got = (await client.heartbeat(b.id, { instances: [], logs: [] })).instances;
      return got.length > 0 ? got[0] : undefined;
    });
    expect(moved.id).not.toBe(first.id);
    expect(moved.takeover).toBe(true);
    expect((await client.nodes()).find((n) => n.name === 'a')?.state).toBe('lost');
    // a comes back: it is ready again but gets nothing back, so it stops what it ran.
    const back = await client.heartbeat(a.id, {
      instances: [{ id: first.id, state: 'running', healthy: true, ports: {}, restarts: 0, volumes: [] }],
      logs: [],
    });
    expect(back.instances).toEqual([]);
    expect((await client.nodes()).find((n) => n.name === 'a')?.state).toBe('ready');
  });

  it('a node leaving cleanly hands its instances over without a takeover', async () => {
    const { client } = await start();
    const a = agent('a', 'z1');
    const b = agent('b', 'z2');
    await client.register(a);
    await client.deploy({ ...web, replicas: 1, volumes: [{ name: 'pg', path: '/data' }] });
    expect((await client.heartbeat(a.id, { instances: [], logs: [] })).instances).toHaveLength(1);
    await client.register(b);
    await client.leave(a.id);
    const got = (await client.heartbeat(b.id, { instances: [], logs: [] })).instances;
    expect(got).toHaveLength(1);
    expect(got[0].takeover).toBe(false);
    expect((await client.nodes()).map((n) => n.name)).toEqual(['b']);
  });

  it('node names are unique among live nodes; a lost node name can be taken over', async () => {
    const { client } = await start({ nodeTimeoutMs: 300 });
    await client.register(agent('a', 'z1'));
    const dup = await rejection(client.register(agent('a', 'z1')));
    expect(dup).toMatchObject({ status: 409 });
    expect(dup.message).toMatch(/a node named "a" is already registered and live/);
    await until('a to be lost', async () => ((await client.nodes())[0].state === 'lost' ? true : undefined));
    const replacement = agent('a', 'z1');
    await client.register(replacement);
    expect((await client.nodes()).map((n) => [n.id, n.state])).toEqual([[replacement.id, 'ready']]);
    const old = await rejection(client.register({ ...agent('b', 'z1'), api: API_VERSION + 1 }));
    expect(old.message).toMatch(/speaks API 1/);
  });

  it('refuses a second control plane on the same state directory, clearly', async () => {
    const dir = join(ROOT, 'shared');
    running.push(await startControlPlane({ dir, port: 0 }));
    await expect(startControlPlane({ dir, port: 0 })).rejects.toThrow(/another control plane uses .*shared\/db; give each its own --state directory/);
  });

  it('refuses a port already taken, and leaves its state closed for the next try', async () => {
    const { plane } = await start();
    const port = Number(new URL(plane.url).port);
    const dir = join(ROOT, 'port-taken');
    await expect(startControlPlane({ dir, port })).rejects.toThrow(`127.0.0.1:${port} is in use (another control plane?); choose another --port`);
    running.push(await startControlPlane({ dir, port: 0 }));
  });

  it('keeps apps, nodes and instances across a restart', async () => {
    const dir = join(ROOT, 'restart');
    const first = await startControlPlane({ dir, port: 0 });
    const client = new ControlClient(first.url);
    const a = agent('a', 'z1');
    await client.register(a);
    const { app } = await client.deploy(web);
    const before = (await client.app('web')).instances.map((i) => [i.id, i.node]);
    await first.close();

    const second = await startControlPlane({ dir, port: 0 });
    running.push(second);
    const again = new ControlClient(second.url);
    const after: AppView = await again.app('web');
    expect(after.id).toBe(app.id);
    expect(after.instances.map((i) => [i.id, i.node])).toEqual(before);
    expect((await again.nodes()).map((n) => [n.name, n.state])).toEqual([['a', 'ready']]);
    // New instance ids do not reuse old ones.
    await again.deploy({ ...web, replicas: 3 });
    const ids = (await again.app('web')).instances.map((i) => i.id);
    expect(new Set(ids).size).toBe(3);
  });
});
