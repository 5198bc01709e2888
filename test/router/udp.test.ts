/**
 * UDP by port: a route owns a router port; each client address gets a
 * session pinned to one instance (separate echo processes) until it has been
 * idle for the timeout. Also TCP routed by a port of its own.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/index.js';
import { type Router, startRouter } from '../../src/router/index.js';
import { type AppInstance, eventually, freePort, startInstance, udpRoundTrip } from './helpers.js';

const IDLE_MS = 600;

describe('router by port: UDP sessions and TCP', () => {
  let u1: AppInstance;
  let u2: AppInstance;
  let t1: AppInstance;
  let router: Router;
  let udpPort: number;
  let tcpPort: number;
  /** Routes that own a port are named host:port/protocol in metrics and ports. */
  let DNS: string;
  const sockets: ReturnType<typeof createSocket>[] = [];
  const client = () => {
    const s = createSocket('udp4');
    sockets.push(s);
    return s;
  };
  const instance = (i: AppInstance) => ({ id: i.id, host: '127.0.0.1', port: i.port, healthy: true });
  const table = (udp: AppInstance[]) => ({
    version: 1,
    domain: 'cairn.test',
    routes: [
      { app: 'dns', id: 'c1c2c3', zone: 'z1', kind: 'udp', listenPort: udpPort, balance: 'round-robin', instances: udp.map(instance) },
      { app: 'echo', id: 'c1c2c3', zone: 'z1', kind: 'tcp', listenPort: tcpPort, balance: 'round-robin', health: { type: 'tcp' }, instances: [instance(t1)] },
    ],
  });
  const gauge = (name: string, route: string) => {
    const m = new RegExp(`^${name}\\{route="${route.replace(/[./]/g, '\\$&')}"\\} (\\d+)$`, 'm').exec(router.metricsText());
    return m ? Number(m[1]) : undefined;
  };

  beforeAll(async () => {
    [u1, u2, t1] = await Promise.all([startInstance('udp-echo', 'u1'), startInstance('udp-echo', 'u2'), startInstance('tcp-echo', 't1')]);
    udpPort = await freePort();
    tcpPort = await freePort();
    DNS = `dns-c1c2c3.z1.cairn.test:${udpPort}/udp`;
    router = await startRouter({
      logger: createLogger('router', { CAIRN_LOG: 'error' }),
      metricsPort: false,
      udpIdleTimeoutMs: IDLE_MS,
      routes: table([u1, u2]),
    });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await router?.close();
  });

  it('routes datagrams by port and keeps each client on one instance', async () => {
    expect(router.ports.routes).toEqual({ [DNS]: udpPort, [`echo-c1c2c3.z1.cairn.test:${tcpPort}/tcp`]: tcpPort });
    const a = client();
    const b = client();
    const first = await udpRoundTrip(udpPort, 'one', a);
    const served = first.split(':')[0];
    expect(first).toBe(`${served}:one`);
    for (let n = 0; n < 5; n++) expect(await udpRoundTrip(udpPort, `again-${n}`, a)).toBe(`${served}:again-${n}`);
    const other = await udpRoundTrip(udpPort, 'two', b);
    expect(other).toBe(`${served === 'u1' ? 'u2' : 'u1'}:two`);
    expect(gauge('cairn_router_connections_active', DNS)).toBe(2);
    expect(router.metricsText()).toContain(`cairn_router_bytes_total{route="${DNS}",direction="to_instance"} ${3 + 5 * 7 + 3}`);
  });

  it('forgets idle sessions after the timeout', async () => {
    const c = client();
    await udpRoundTrip(udpPort, 'x', c);
    expect(await eventually(() => gauge('cairn_router_connections_active', DNS) === 0, IDLE_MS * 5)).toBe(true);
    const sessionsBefore = Number(/cairn_router_connections_total\{route="dns[^}]*\} (\d+)/.exec(router.metricsText())![1]);
    await udpRoundTrip(udpPort, 'y', c);
    const sessionsAfter = Number(/cairn_router_connections_total\{route="dns[^}]*\} (\d+)/.exec(router.metricsText())![1]);
    expect(sessionsAfter).toBe(sessionsBefore + 1);
  });

  it('a session whose instance leaves the table keeps its instance; new ones go to the rest', async () => {
    const kept = client();
    const before = (await udpRoundTrip(udpPort, 'k', kept)).split(':')[0];
    const stay = before === 'u1' ? u2 : u1;
    await router.setRoutes(table([stay]));
    expect(await udpRoundTrip(udpPort, 'k2', kept)).toBe(`${before}:k2`);
    for (let n = 0; n < 3; n++) expect(await udpRoundTrip(udpPort, `new-${n}`, client())).toBe(`${stay.id}:new-${n}`);
    await router.setRoutes(table([u1, u2]));
  });

  it('an app published in two zones shares its port: the first zone\'s route serves it', async () => {
    const base = table([u1, u2]);
    const z2 = { ...base.routes[0], zone: 'z2' };
    await router.setRoutes({ ...base, routes: [...base.routes, z2] });
    expect(Object.keys(router.ports.routes).sort()).toEqual([DNS, `echo-c1c2c3.z1.cairn.test:${tcpPort}/tcp`]);
    expect(await udpRoundTrip(udpPort, 'zones', client())).toMatch(/^u[12]:zones$/);
    await router.setRoutes(base);
  });

  it('forwards TCP on the route port', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: tcpPort });
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.end('ping');
    });
    expect(reply).toBe('t1:ping');
  });

  it('a route that leaves the table gives up its port once its sessions are idle', async () => {
    await router.setRoutes({ version: 1, domain: 'cairn.test', routes: [] });
    expect(router.ports.routes).toEqual({});
    const s = client();
    await expect(udpRoundTrip(udpPort, 'gone', s, 500)).rejects.toThrow(/no UDP reply/);
    // The port is free again once the idle sessions are gone.
    const probe = createSocket('udp4');
    const bound = await eventually(
      () =>
        new Promise<boolean>((resolve) => {
          probe.once('error', () => resolve(false));
          probe.bind(udpPort, '127.0.0.1', () => resolve(true));
        }),
      IDLE_MS * 5,
    );
    probe.close();
    expect(bound).toBe(true);
  });
});
