// The node agent's health checks against real servers on 127.0.0.1.
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth } from '../../src/node/health.js';
import { ensureDevCa, issueCertificate } from '../../src/router/index.js';
import type { AppSpec } from '../../src/scheduler/spec.js';
import { tempDir } from '../helpers/tmp.js';
import { spec } from './cluster-fixtures.js';

const DIR = tempDir('health');
const answer = (req: { url?: string }, res: { statusCode: number; end(): void }) => {
  res.statusCode = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 503;
  res.end();
};
const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));

let plain: Server;
let tls: Server;
const ports: Record<string, number> = {};
beforeAll(async () => {
  const ca = await ensureDevCa(join(DIR, 'ca'));
  const cert = await issueCertificate(ca, 'app.cairn.test', join(DIR, 'certs'));
  plain = createServer(answer);
  tls = createTlsServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, answer);
  ports.web = await listen(plain);
  ports.secure = await listen(tls);
});
afterAll(() => {
  plain?.close();
  tls?.close();
});

const app: AppSpec = spec({
  ports: [
    { name: 'web', protocol: 'http' },
    { name: 'secure', protocol: 'tcp', listenPort: 9443 },
  ],
});
const passthrough: AppSpec = spec({ ports: [{ name: 'secure', protocol: 'http', tls: 'passthrough' }] });

describe('health checks', () => {
  it('http: 2xx and 3xx pass, anything else fails', async () => {
    expect(await checkHealth(app, { type: 'http', path: '/ok', port: 'web' }, '127.0.0.1', ports)).toBe(true);
    expect(await checkHealth(app, { type: 'http', path: '/moved', port: 'web' }, '127.0.0.1', ports)).toBe(true);
    expect(await checkHealth(app, { type: 'http', path: '/sick', port: 'web' }, '127.0.0.1', ports)).toBe(false);
  });

  it('http on a passthrough port speaks TLS to the app (its certificate unverified)', async () => {
    expect(await checkHealth(passthrough, { type: 'http', path: '/ok', port: 'secure' }, '127.0.0.1', ports)).toBe(true);
    // A plain HTTP server behind a passthrough port is not healthy: the router could not reach it either.
    expect(await checkHealth(passthrough, { type: 'http', path: '/ok', port: 'secure' }, '127.0.0.1', { secure: ports.web })).toBe(false);
  });

  it('tcp: a connect is enough; nothing listening fails; a port not given fails', async () => {
    expect(await checkHealth(app, { type: 'tcp', port: 'secure' }, '127.0.0.1', ports)).toBe(true);
    const closed = createServer();
    const port = await listen(closed);
    await new Promise((r) => closed.close(r));
    expect(await checkHealth(app, { type: 'tcp', port: 'web' }, '127.0.0.1', { web: port })).toBe(false);
    expect(await checkHealth(app, { type: 'tcp', port: 'web' }, '127.0.0.1', {})).toBe(false);
  });
});
