/**
 * TLS termination: the router finishes the handshake with the app's
 * certificate from the dev CA and forwards plaintext to the instances
 * (separate processes). A client trusting the dev CA verifies it; one that
 * does not, refuses it. Least-connections balancing is seen from outside.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/index.js';
import { type IssuedCert, type Router, ensureDevCa, issueCertificate, startRouter } from '../../src/router/index.js';
import { tempDir } from '../helpers/tmp.js';
import { type AppInstance, eventually, httpsGet, startInstance, tlsError } from './helpers.js';

const API = 'api-b1b2c3.z1.cairn.test';
const BROKEN = 'broken-b1b2c3.z1.cairn.test';
const WEB = 'web-a1b2c3.z1.cairn.test';

describe('router terminating TLS with the dev CA', () => {
  const dir = tempDir('router-term');
  let ca: Buffer;
  let apiCert: IssuedCert;
  let p1: AppInstance;
  let p2: AppInstance;
  let web: AppInstance;
  let router: Router;

  beforeAll(async () => {
    const devCa = await ensureDevCa(join(dir, 'ca'));
    ca = readFileSync(devCa.cert);
    apiCert = await issueCertificate(devCa, API, join(dir, 'certs'));
    const webCert = await issueCertificate(devCa, WEB, join(dir, 'certs'));
    [p1, p2, web] = await Promise.all([
      startInstance('http', 'p1'),
      startInstance('http', 'p2'),
      startInstance('https', 'web', webCert),
    ]);
    const instance = (i: AppInstance) => ({ id: i.id, host: '127.0.0.1', port: i.port, healthy: true });
    router = await startRouter({
      logger: createLogger('router', { CAIRN_LOG: 'error' }),
      metricsPort: false,
      routes: {
        version: 1,
        domain: 'cairn.test',
        routes: [
          { app: 'api', id: 'b1b2c3', zone: 'z1', kind: 'tls-terminate', balance: 'least-connections', cert: apiCert.cert, key: apiCert.key, instances: [instance(p1), instance(p2)] },
          { app: 'broken', id: 'b1b2c3', zone: 'z1', kind: 'tls-terminate', balance: 'round-robin', cert: join(dir, 'missing.crt'), key: join(dir, 'missing.key'), instances: [instance(p1)] },
          { app: 'web', id: 'a1b2c3', zone: 'z1', kind: 'tls-passthrough', balance: 'round-robin', instances: [instance(web)] },
        ],
      },
    });
  });
  afterAll(async () => {
    await router?.close();
  });

  it('serves the app certificate, verified by a client that trusts the dev CA', async () => {
    const r = await httpsGet(router.ports.tls, API, '/hello', { ca });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^instance p[12] \/hello\n$/);
    expect(r.fingerprint).toBe(new X509Certificate(readFileSync(apiCert.cert)).fingerprint256);
  });

  it('a client that does not trust the dev CA refuses the certificate', async () => {
    const err = await tlsError(router.ports.tls, { servername: API, rejectUnauthorized: true });
    expect(err?.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('the certificate is only good for its own name', async () => {
    const err = await tlsError(router.ports.tls, { servername: API, ca, rejectUnauthorized: true, checkServerIdentity: (_host, cert) => (cert.subjectaltname === `DNS:${WEB}` ? undefined : new Error(`certificate is for ${cert.subjectaltname}`)) });
    expect(err?.message).toBe(`certificate is for DNS:${API}`);
  });

  it('termination and passthrough routes share the TLS port', async () => {
    const r = await httpsGet(router.ports.tls, WEB, '/pass', { ca });
    expect(r.body).toBe('instance web /pass\n');
    expect(r.fingerprint).not.toBe(new X509Certificate(readFileSync(apiCert.cert)).fingerprint256);
  });

  it('least connections sends new connections away from the busy instance', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
    try {
      const held = await httpsGet(router.ports.tls, API, '/held', { agent });
      const busy = held.body.split(' ')[1];
      const others = [];
      const onlyHeld = () => router.metricsText().includes(`cairn_router_connections_active{route="${API}"} 1\n`);
      for (let n = 0; n < 4; n++) {
        // Wait until the last request's connection has closed on both sides, so the held one is the only one open.
        expect(await eventually(onlyHeld)).toBe(true);
        others.push((await httpsGet(router.ports.tls, API, `/n${n}`, { ca })).body.split(' ')[1]);
      }
      expect(others.every((id) => id !== busy)).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('a route whose certificate cannot be loaded refuses with an alert; the others go on', async () => {
    const err = await tlsError(router.ports.tls, { servername: BROKEN });
    expect(err?.code).toBe('ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR');
    expect((await httpsGet(router.ports.tls, API, '/ok', { ca })).status).toBe(200);
    expect(router.metricsText()).toContain(`cairn_router_errors_total{route="${BROKEN}",reason="no_certificate"} 1`);
  });
});
