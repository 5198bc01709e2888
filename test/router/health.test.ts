/**
 * Active health checks against real servers on loopback: an instance whose
 * /healthz fails is taken out of rotation after `fall` checks and put back
 * after `rise`; a TCP check takes out an instance that stops listening.
 */
import { type Server, createServer, get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/index.js';
import { type Balance, type HealthCheck, type Router, startRouter } from '../../src/router/index.js';
import { eventually, freePort } from './helpers.js';

const HOST = 'api-e1e2e3.z1.cairn.test';

function instance(id: string): Promise<{ server: Server; port: number; sick: { now: boolean } }> {
  const sick = { now: false };
  const server = createServer((req, res) => {
    if (req.url === '/healthz' && sick.now) res.writeHead(500).end('sick');
    else res.writeHead(200).end(id);
  });
  server.keepAliveTimeout = 100;
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, sick })),
  );
}

function fetchVia(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).once('error', reject);
  });
}

describe('active health checks', () => {
  let a: Awaited<ReturnType<typeof instance>>;
  let b: Awaited<ReturnType<typeof instance>>;
  let router: Router;
  let port: number;
  const table = (balance: Balance, health: HealthCheck) => ({
    version: 1,
    domain: 'cairn.test',
    routes: [
      {
        app: 'api',
        id: 'e1e2e3',
        zone: 'z1',
        kind: 'tcp',
        listenPort: port,
        balance,
        health,
        instances: [a, b].map((x, n) => ({ id: 'ab'[n], host: '127.0.0.1', port: x.port, healthy: true })),
      },
    ],
  });
  const up = (id: string) => {
    const sample = `cairn_router_instance_up{route="${HOST}:${port}/tcp",instance="${id}"}`;
    const text = router.metricsText();
    if (!text.includes(sample)) throw new Error(`no ${sample} in the metrics`);
    return text.includes(`${sample} 1\n`);
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([instance('a'), instance('b')]);
    port = await freePort();
    router = await startRouter({
      logger: createLogger('router', { CAIRN_LOG: 'error' }),
      metricsPort: false,
      health: { intervalMs: 100, timeoutMs: 500, fall: 2, rise: 2 },
      routes: table('round-robin', { type: 'http', path: '/healthz' }),
    });
  });
  afterAll(async () => {
    await router?.close();
    a?.server.close();
    b?.server.close();
  });

  it('an instance failing its HTTP check leaves the rotation and comes back when it passes again', async () => {
    const first = [await fetchVia(port), await fetchVia(port)];
    expect(first.sort()).toEqual(['a', 'b']);
    a.sick.now = true;
    expect(await eventually(() => !up('a'), 5_000)).toBe(true);
    for (let n = 0; n < 4; n++) expect(await fetchVia(port)).toBe('b');
    a.sick.now = false;
    expect(await eventually(() => up('a'), 5_000)).toBe(true);
    const again = [await fetchVia(port), await fetchVia(port)];
    expect(again.sort()).toEqual(['a', 'b']);
  });

  it('a TCP check takes out an instance that stops listening', async () => {
    await router.setRoutes(table('least-connections', { type: 'tcp' }));
    b.server.closeAllConnections();
    await new Promise((r) => b.server.close(r));
    expect(await eventually(() => !up('b'), 5_000)).toBe(true);
    expect(up('a')).toBe(true);
    for (let n = 0; n < 4; n++) expect(await fetchVia(port)).toBe('a');
  });
});
