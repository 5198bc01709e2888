/**
 * What a hostile or broken client gets: malformed ClientHellos, oversized
 * records, slowloris-style connections that never finish their hello,
 * unknown names. Each is closed (with a TLS alert where one makes sense),
 * nothing stays open in the router, and other clients are served meanwhile.
 */
import { readFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/index.js';
import { Alert, alertRecord } from '../../src/router/client-hello.js';
import { type Router, ensureDevCa, issueCertificate, startRouter } from '../../src/router/index.js';
import { tempDir } from '../helpers/tmp.js';
import { type AppInstance, eventually, freePort, httpsGet, startInstance, tlsError } from './helpers.js';

const WEB = 'web-a1b2c3.z1.cairn.test';
const DEAD = 'dead-a1b2c3.z1.cairn.test';
const HELLO_TIMEOUT_MS = 500;

interface Raw {
  socket: Socket;
  received: () => Buffer;
  /** Milliseconds from connect until the router closed the connection. */
  closed: Promise<number>;
}

function raw(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const start = Date.now();
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - start)));
    socket.once('connect', () => resolve({ socket, received: () => Buffer.concat(chunks), closed }));
    socket.once('error', reject);
  });
}

/** A well-framed ClientHello record whose session id claims 33 bytes (at most 32 are allowed). */
function malformedHello(): Buffer {
  const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32), Buffer.from([33]), Buffer.alloc(33), Buffer.from([0, 2, 0x13, 1, 1, 0])]);
  const hs = Buffer.concat([Buffer.from([1, 0, 0, body.length]), body]);
  return Buffer.concat([Buffer.from([0x16, 3, 1, 0, hs.length]), hs]);
}

const within = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms));

describe('router against malformed, oversized, slow and unknown clients', () => {
  const dir = tempDir('router-abuse');
  let ca: Buffer;
  let web: AppInstance;
  let router: Router;
  const openClients = () => Number(/^cairn_router_client_connections (\d+)$/m.exec(router.metricsText())![1]);
  const pending = () => Number(/^cairn_router_pending_hellos (\d+)$/m.exec(router.metricsText())![1]);
  const errors = (reason: string, route = 'unknown') =>
    Number(new RegExp(`cairn_router_errors_total\\{route="${route}",reason="${reason}"\\} (\\d+)`).exec(router.metricsText())?.[1] ?? 0);
  const served = async () => (await httpsGet(router.ports.tls, WEB, '/ok', { ca })).body;

  beforeAll(async () => {
    const devCa = await ensureDevCa(join(dir, 'ca'));
    ca = readFileSync(devCa.cert);
    web = await startInstance('https', 'web', await issueCertificate(devCa, WEB, join(dir, 'certs')));
    router = await startRouter({
      logger: createLogger('router', { CAIRN_LOG: 'error' }),
      metricsPort: false,
      helloTimeoutMs: HELLO_TIMEOUT_MS,
      routes: {
        version: 1,
        domain: 'cairn.test',
        routes: [
          { app: 'web', id: 'a1b2c3', zone: 'z1', kind: 'tls-passthrough', balance: 'round-robin', instances: [{ id: 'web', host: '127.0.0.1', port: web.port, healthy: true }] },
          { app: 'dead', id: 'a1b2c3', zone: 'z1', kind: 'tls-passthrough', balance: 'round-robin', instances: [{ id: 'gone', host: '127.0.0.1', port: await freePort(), healthy: true }] },
        ],
      },
    });
  });
  afterAll(async () => {
    await router?.close();
  });

  it('a malformed ClientHello gets decode_error and is closed', async () => {
    const c = await raw(router.ports.tls);
    c.socket.write(malformedHello());
    expect(await Promise.race([c.closed, within(2_000)])).not.toBe('timeout');
    expect(c.received()).toEqual(alertRecord(Alert.decodeError));
    expect(await served()).toBe('instance web /ok\n');
  });

  it('an oversized record gets record_overflow at once, without the router waiting for its bytes', async () => {
    const c = await raw(router.ports.tls);
    c.socket.write(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00]));
    const ms = await Promise.race([c.closed, within(2_000)]);
    expect(ms).not.toBe('timeout');
    expect(ms).toBeLessThan(HELLO_TIMEOUT_MS);
    expect(c.received()).toEqual(alertRecord(Alert.recordOverflow));
  });

  it('plain HTTP on the TLS port is closed with an alert', async () => {
    const c = await raw(router.ports.tls);
    c.socket.write('GET / HTTP/1.1\r\nHost: web\r\n\r\n');
    expect(await Promise.race([c.closed, within(2_000)])).not.toBe('timeout');
    expect(c.received()).toEqual(alertRecord(Alert.unexpectedMessage));
  });

  it('slowloris: connections that never finish their ClientHello are closed at the timeout while others are served', async () => {
    const timeoutsBefore = errors('hello_timeout');
    const silent = await Promise.all(Array.from({ length: 10 }, () => raw(router.ports.tls)));
    const trickling = await Promise.all(Array.from({ length: 10 }, () => raw(router.ports.tls)));
    // A real-looking start, one byte every 50 ms: it would take many seconds to finish.
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, ...Buffer.alloc(508, 3)]);
    let at = 0;
    const trickle = setInterval(() => {
      for (const t of trickling) if (!t.socket.destroyed) t.socket.write(hello.subarray(at, at + 1));
      at++;
    }, 50);
    try {
      expect(await eventually(() => pending() === 20, 2_000)).toBe(true);
      for (let n = 0; n < 5; n++) expect(await served()).toBe('instance web /ok\n');
      const closedAfter = await Promise.all([...silent, ...trickling].map((c) => Promise.race([c.closed, within(5_000)])));
      for (const ms of closedAfter) {
        expect(ms).not.toBe('timeout');
        expect(ms).toBeGreaterThanOrEqual(HELLO_TIMEOUT_MS - 50);
        expect(ms).toBeLessThan(HELLO_TIMEOUT_MS + 2_000);
      }
    } finally {
      clearInterval(trickle);
    }
    expect(errors('hello_timeout')).toBe(timeoutsBefore + 20);
    expect(pending()).toBe(0);
    expect(await eventually(() => openClients() === 0)).toBe(true);
  });

  it('an unknown name is closed cleanly with unrecognized_name, and so is a hello without SNI', async () => {
    const before = errors('unknown_name');
    const err = await tlsError(router.ports.tls, { servername: 'nope-zzzzzz.z1.cairn.test' });
    expect(err?.code).toBe('ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
    const bare = await tlsError(router.ports.tls, { servername: '' });
    expect(bare?.code).toBe('ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
    expect(errors('unknown_name')).toBe(before + 1);
    expect(errors('no_sni')).toBe(1);
    expect(await eventually(() => openClients() === 0)).toBe(true);
    expect(await served()).toBe('instance web /ok\n');
  });

  it('a route whose instances do not answer gets internal_error, and its instance is ejected', async () => {
    const err = await tlsError(router.ports.tls, { servername: DEAD });
    expect(err?.code).toBe('ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR');
    await tlsError(router.ports.tls, { servername: DEAD });
    expect(router.metricsText()).toContain(`cairn_router_instance_up{route="${DEAD}",instance="gone"} 0`);
    expect(errors('upstream_connect', DEAD)).toBe(2);
    // Ejected: the next client is refused without another connect attempt.
    await tlsError(router.ports.tls, { servername: DEAD });
    expect(errors('upstream_connect', DEAD)).toBe(2);
    expect(errors('no_instance', DEAD)).toBe(3);
    expect(await eventually(() => openClients() === 0)).toBe(true);
  });
});

describe('router with its pending-hello bound reached', () => {
  it('closes new connections at once, and serves again once the slow ones time out', async () => {
    const router = await startRouter({
      logger: createLogger('router', { CAIRN_LOG: 'error' }),
      metricsPort: false,
      helloTimeoutMs: HELLO_TIMEOUT_MS,
      maxPendingHellos: 5,
      routes: { version: 1, domain: 'cairn.test', routes: [] },
    });
    try {
      const slow = await Promise.all(Array.from({ length: 5 }, () => raw(router.ports.tls)));
      await eventually(() => /^cairn_router_pending_hellos 5$/m.test(router.metricsText()), 2_000);
      const extra = await raw(router.ports.tls);
      const ms = await Promise.race([extra.closed, within(2_000)]);
      expect(ms).toBeLessThan(HELLO_TIMEOUT_MS);
      expect(router.metricsText()).toContain('cairn_router_errors_total{route="unknown",reason="too_many_pending"} 1');
      await Promise.all(slow.map((s) => s.closed));
      const after = await tlsError(router.ports.tls, { servername: 'x-yyyyyy.z1.cairn.test' });
      expect(after?.code).toBe('ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
    } finally {
      await router.close();
    }
  });
});
