/**
 * `cairn router start --control URL` against an HTTP server on loopback
 * that serves GET /v1/routes the way the control plane does (the contract
 * in docs/ROUTER.md): the router starts before the control plane answers,
 * follows table changes, refuses a bad table once and keeps the last good
 * one, and stops polling when it stops.
 */
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevCa, issueCertificate } from '../../src/router/index.js';
import { tempDir } from '../helpers/tmp.js';
import { type AppInstance, type RouterProcess, eventually, httpsGet, scrape, series, startInstance, startRouterCli, tlsError } from './helpers.js';

const HOST = 'shop-d1d2d3.z2.cairn.test';

describe('router following the control plane (--control URL)', () => {
  const dir = tempDir('router-control');
  let ca: Buffer;
  let s1: AppInstance;
  let s2: AppInstance;
  let control: Server;
  let router: RouterProcess;
  let answer: { status: number; body: string } = { status: 503, body: 'starting' };
  let polls = 0;

  const table = (i: AppInstance) =>
    JSON.stringify({
      version: 1,
      domain: 'cairn.test',
      routes: [
        {
          app: 'shop',
          id: 'd1d2d3',
          zone: 'z2',
          host: HOST,
          kind: 'tls-passthrough',
          balance: 'least-connections',
          health: { type: 'http', path: '/healthz' },
          instances: [{ id: i.id, host: '127.0.0.1', port: i.port, healthy: true }],
        },
      ],
    });
  const servedBy = async () => (await httpsGet(router.tls, HOST, '/', { ca })).body.split(' ')[1];

  beforeAll(async () => {
    const devCa = await ensureDevCa(join(dir, 'ca'));
    ca = readFileSync(devCa.cert);
    const cert = await issueCertificate(devCa, HOST, join(dir, 'certs'));
    [s1, s2] = await Promise.all([startInstance('https', 's1', cert), startInstance('https', 's2', cert)]);
    control = createServer((req, res) => {
      polls++;
      if (req.url !== '/v1/routes') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(control.address() as { port: number }).port}`;
    router = await startRouterCli(['--control', url, '--health-interval', '200ms']);
  });
  afterAll(async () => {
    await router?.kill();
    control?.close();
  });

  it('starts before the control plane answers, with no routes', async () => {
    expect(await eventually(() => polls >= 2, 5_000)).toBe(true);
    expect((await tlsError(router.tls, { servername: HOST }))?.code).toBe('ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
    expect(router.output()).toMatch(/cannot fetch routes from the control plane/);
  });

  it('applies the table once the control plane serves it, and follows its changes', async () => {
    answer = { status: 200, body: table(s1) };
    expect(await eventually(async () => (await tlsError(router.tls, { servername: HOST })) === undefined, 5_000)).toBe(true);
    expect(await servedBy()).toBe('s1');
    answer = { status: 200, body: table(s2) };
    expect(await eventually(async () => (await servedBy()) === 's2', 5_000)).toBe(true);
  });

  it('refuses a bad table once and keeps serving the last good one', async () => {
    answer = { status: 200, body: JSON.stringify({ version: 9, domain: 'cairn.test', routes: [] }) };
    const rejected = series('cairn_router_table_updates_total', { result: 'rejected' });
    expect(await eventually(async () => (await scrape(router.metrics)).get(rejected) === 1, 5_000)).toBe(true);
    const seen = polls;
    expect(await eventually(() => polls >= seen + 2, 5_000)).toBe(true);
    expect((await scrape(router.metrics)).get(rejected)).toBe(1);
    expect(await servedBy()).toBe('s2');
    expect(router.output()).toMatch(/version: is 9; this router reads version 1/);
  });

  it('keeps serving when the control plane goes away, and stops polling when stopped', async () => {
    answer = { status: 500, body: 'down' };
    const seen = polls;
    expect(await eventually(() => polls >= seen + 2, 5_000)).toBe(true);
    expect(await servedBy()).toBe('s2');
    await router.kill('SIGTERM');
    expect(await router.exited).toBe(0);
    const after = polls;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(polls).toBe(after);
  });
});
