import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RouteTableError, parseRouteTable, parseRouteTableJson, readRouteTableFile } from '../../src/router/index.js';

const route = (over: Record<string, unknown> = {}) => ({
  app: 'web',
  id: 'a1b2c3',
  zone: 'z1',
  host: 'web-a1b2c3.z1.cairn.test',
  kind: 'tls-passthrough',
  balance: 'round-robin',
  instances: [{ id: 'web-1', host: '127.0.0.1', port: 18443, healthy: true }],
  ...over,
});
const table = (routes: unknown[], over: Record<string, unknown> = {}) => ({ version: 1, domain: 'cairn.test', routes, ...over });

describe('route table', () => {
  it('accepts the contract example and fills in defaults', () => {
    const t = parseRouteTable(
      table([
        route({ balance: undefined, health: { type: 'http', path: '/healthz' } }),
        route({ app: 'dns', kind: 'udp', host: 'dns-a1b2c3.z1.cairn.test', listenPort: 9443, instances: [{ id: 'd', host: '127.0.0.1', port: 53 }] }),
      ]),
      'test',
    );
    expect(t.routes[0]).toMatchObject({ balance: 'round-robin', health: { type: 'http', path: '/healthz' } });
    expect(t.routes[1]).toMatchObject({ kind: 'udp', listenPort: 9443, instances: [{ healthy: true }] });
  });

  it('lets one app publish a TLS port and port-routed ports under one host, in several zones', () => {
    const z2 = { zone: 'z2', host: 'web-a1b2c3.z2.cairn.test' };
    const t = parseRouteTable(
      table([
        route(),
        route({ kind: 'udp', listenPort: 9125 }),
        route({ kind: 'tcp', listenPort: 9125 }),
        route(z2),
        route({ ...z2, kind: 'udp', listenPort: 9125 }),
      ]),
      'test',
    );
    expect(t.routes.map((r) => `${r.host} ${r.kind} ${r.listenPort ?? '-'}`)).toEqual([
      'web-a1b2c3.z1.cairn.test tls-passthrough -',
      'web-a1b2c3.z1.cairn.test udp 9125',
      'web-a1b2c3.z1.cairn.test tcp 9125',
      'web-a1b2c3.z2.cairn.test tls-passthrough -',
      'web-a1b2c3.z2.cairn.test udp 9125',
    ]);
  });

  it('resolves relative cert and key paths against the routes file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-routes-'));
    try {
      const file = join(dir, 'routes.json');
      writeFileSync(file, JSON.stringify(table([route({ kind: 'tls-terminate', cert: 'certs/a.crt', key: '/abs/a.key' })])));
      const t = await readRouteTableFile(file);
      expect(t.routes[0].cert).toBe(join(dir, 'certs/a.crt'));
      expect(t.routes[0].key).toBe('/abs/a.key');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', [], /table: must be an object/],
    ['another version', table([], { version: 2 }), /version: is 2; this router reads version 1/],
    ['a bad domain', table([], { domain: 'no_underscores.test' }), /domain/],
    ['routes not an array', table([], { routes: {} }), /routes: must be an array/],
    ['a host that does not match its parts', table([route({ host: 'web.z1.cairn.test' })]), /routes\[0\]\.host: .* must be "web-a1b2c3\.z1\.cairn\.test"/],
    ['an unknown kind', table([route({ kind: 'http' })]), /routes\[0\]\.kind: must be one of/],
    ['an unknown balance', table([route({ balance: 'random' })]), /routes\[0\]\.balance/],
    ['an app id with capitals', table([route({ id: 'ABC', host: undefined })]), /routes\[0\]\.id/],
    ['a udp route without a port', table([route({ kind: 'udp' })]), /listenPort: is required for a udp route/],
    ['a port out of range', table([route({ instances: [{ id: 'a', host: '127.0.0.1', port: 70000 }] })]), /instances\[0\]\.port/],
    ['healthy not a boolean', table([route({ instances: [{ id: 'a', host: '127.0.0.1', port: 1, healthy: 'yes' }] })]), /healthy/],
    ['a termination route without a certificate', table([route({ kind: 'tls-terminate' })]), /routes\[0\]\.cert/],
    ['an http check without a path', table([route({ health: { type: 'http' } })]), /health\.path/],
    ['a health path without a slash', table([route({ health: { type: 'http', path: 'healthz' } })]), /health\.path/],
    ['two routes with one host', table([route(), route()]), /appears twice/],
    ['two apps on one port', table([route({ kind: 'udp', listenPort: 5 }), route({ app: 'b', host: undefined, kind: 'udp', listenPort: 5 })]), /both claim udp listenPort 5/],
    ['two SNI routes for one host', table([route(), route({ kind: 'tcp' })]), /"web-a1b2c3\.z1\.cairn\.test" appears twice/],
    ['an instance id twice', table([route({ instances: [{ id: 'a', host: 'h', port: 1 }, { id: 'a', host: 'h', port: 2 }] })]), /"a" appears twice/],
    ['a bad instance host', table([route({ instances: [{ id: 'a', host: 'has space', port: 1 }] })]), /instances\[0\]\.host/],
  ];
  for (const [what, value, message] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => parseRouteTable(value, 'test')).toThrow(RouteTableError);
      expect(() => parseRouteTable(value, 'test')).toThrow(message);
    });
  }

  it('rejects text that is not JSON, naming the source', () => {
    expect(() => parseRouteTableJson('{"version": 1,', 'http://127.0.0.1:1/v1/routes')).toThrow(
      /route table from http:\/\/127\.0\.0\.1:1\/v1\/routes is invalid: not JSON/,
    );
  });

  it('a missing file is a RouteTableError that names it', async () => {
    await expect(readRouteTableFile('/nonexistent/routes.json')).rejects.toThrow(/routes\.json is invalid: cannot read it \(ENOENT\)/);
  });
});
