/**
 * The main router story, all real processes on loopback: two HTTPS
 * instances of one app behind `cairn router start` by SNI passthrough; both
 * serve; one is killed with -9 and new connections go to the other while the
 * router keeps serving; a route table change leaves an established
 * connection alone until its drain timeout; a broken table is refused.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IssuedCert, ensureDevCa, issueCertificate } from '../../src/router/index.js';
import { tempDir } from '../helpers/tmp.js';
import {
  type AppInstance,
  type RouterProcess,
  eventually,
  httpsGet,
  scrape,
  series,
  startInstance,
  startRouterCli,
} from './helpers.js';

const HOST = 'web-a1b2c3.z1.cairn.test';
const ROUTE = { route: HOST };

describe('router by SNI passthrough (cairn router start)', () => {
  const dir = tempDir('router-pass');
  const routesFile = join(dir, 'routes.json');
  let ca: Buffer;
  let issued: IssuedCert;
  let w1: AppInstance;
  let w2: AppInstance;
  let router: RouterProcess;

  const writeRoutes = (instances: AppInstance[]) =>
    writeFileSync(
      routesFile,
      JSON.stringify({
        version: 1,
        domain: 'cairn.test',
        routes: [
          {
            app: 'web',
            id: 'a1b2c3',
            zone: 'z1',
            host: HOST,
            kind: 'tls-passthrough',
            balance: 'round-robin',
            health: { type: 'tcp' },
            instances: instances.map((i) => ({ id: i.id, host: '127.0.0.1', port: i.port, healthy: true })),
          },
        ],
      }),
    );
  const get = (path: string, options = {}) => httpsGet(router.tls, HOST, path, { ca, ...options });

  beforeAll(async () => {
    const devCa = await ensureDevCa(join(dir, 'ca'));
    ca = readFileSync(devCa.cert);
    issued = await issueCertificate(devCa, HOST, join(dir, 'certs'));
    [w1, w2] = await Promise.all([startInstance('https', 'w1', issued), startInstance('https', 'w2', issued)]);
    writeRoutes([w1, w2]);
    router = await startRouterCli([
      '--routes',
      routesFile,
      '--health-interval',
      '200ms',
      '--hello-timeout',
      '2s',
      '--drain-timeout',
      '1500ms',
    ]);
  });
  afterAll(async () => {
    await router?.kill();
  });

  it('both instances serve, in turn, with the app certificate passed through untouched', async () => {
    const replies = [];
    for (let n = 0; n < 6; n++) replies.push(await get(`/r${n}`));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const served = replies.map((r) => r.body.split(' ')[1]);
    expect(new Set(served)).toEqual(new Set(['w1', 'w2']));
    for (let n = 1; n < served.length; n++) expect(served[n]).not.toBe(served[n - 1]);
    expect(replies[3].body).toBe(`instance ${served[3]} /r3\n`);
    const appCert = new X509Certificate(readFileSync(issued.cert));
    expect(replies.every((r) => r.fingerprint === appCert.fingerprint256)).toBe(true);

    const m = await scrape(router.metrics);
    expect(m.get(series('cairn_router_connections_total', ROUTE))).toBe(6);
    expect(m.get(series('cairn_router_bytes_total', { ...ROUTE, direction: 'to_instance' }))).toBeGreaterThan(6 * 200);
    expect(m.get(series('cairn_router_bytes_total', { ...ROUTE, direction: 'to_client' }))).toBeGreaterThan(6 * 500);
    // Closed connections stop counting once both sides have closed, a moment after the client's end.
    const active = series('cairn_router_connections_active', ROUTE);
    expect(await eventually(async () => (await scrape(router.metrics)).get(active) === 0)).toBe(true);
  });

  it('kill -9 one instance: new connections go to the other and the router keeps serving', async () => {
    await w1.kill('SIGKILL');
    const served = [];
    for (let n = 0; n < 6; n++) {
      const r = await get(`/after-kill-${n}`);
      expect(r.status).toBe(200);
      served.push(r.body.split(' ')[1]);
    }
    expect(served).toEqual(['w2', 'w2', 'w2', 'w2', 'w2', 'w2']);
    expect(router.child.exitCode).toBeNull();
    // The health checks and the failed connects take w1 out of rotation.
    const down = series('cairn_router_instance_up', { ...ROUTE, instance: 'w1' });
    expect(await eventually(async () => (await scrape(router.metrics)).get(down) === 0)).toBe(true);
    const m = await scrape(router.metrics);
    expect(m.get(series('cairn_router_instance_up', { ...ROUTE, instance: 'w2' }))).toBe(1);
  });

  it('a route change leaves an established connection alone, then drains it', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get('/kept-1', { agent });
      expect(first.body).toBe('instance w2 /kept-1\n');
      const w3 = await startInstance('https', 'w3', issued);
      writeRoutes([w3]); // w2 leaves the table
      const up = series('cairn_router_instance_up', { ...ROUTE, instance: 'w3' });
      expect(await eventually(async () => (await scrape(router.metrics)).get(up) === 1)).toBe(true);

      const second = await get('/kept-2', { agent });
      expect(second.body).toBe('instance w2 /kept-2\n'); // w2 is out of the table: only the kept connection reaches it
      expect((await get('/fresh')).body).toBe('instance w3 /fresh\n'); // new connections go to w3

      // After the drain timeout the router closes what is left to w2.
      const drained = series('cairn_router_errors_total', { ...ROUTE, reason: 'drain_timeout' });
      expect(await eventually(async () => (await scrape(router.metrics)).get(drained) === 1, 5_000)).toBe(true);
      const third = await get('/after-drain', { agent });
      expect(third.body).toBe('instance w3 /after-drain\n');
      await w3.kill();
    } finally {
      agent.destroy();
    }
  });

  it('a broken routes file is refused and the last good table keeps serving', async () => {
    const before = await scrape(router.metrics);
    const applied = before.get(series('cairn_router_table_updates_total', { result: 'applied' }))!;
    writeRoutes([w2]);
    const up = series('cairn_router_instance_up', { ...ROUTE, instance: 'w2' });
    expect(await eventually(async () => (await scrape(router.metrics)).get(up) === 1)).toBe(true);
    writeFileSync(routesFile, '{"version": 1, "domain": "cairn.test", "routes": [');
    const rejected = series('cairn_router_table_updates_total', { result: 'rejected' });
    expect(await eventually(async () => (await scrape(router.metrics)).get(rejected) === 1)).toBe(true);
    expect((await get('/still')).body).toBe('instance w2 /still\n');
    const after = await scrape(router.metrics);
    expect(after.get(series('cairn_router_table_updates_total', { result: 'applied' }))).toBe(applied + 1);
    expect(router.output()).toMatch(/route table rejected; keeping the last good one/);
    expect(router.output()).toMatch(/routes\.json is invalid: not JSON/);
  });

  it('SIGTERM stops the router cleanly', async () => {
    await router.kill('SIGTERM');
    expect(await router.exited).toBe(0);
    expect(router.output()).toMatch(/router stopped/);
  });
});
