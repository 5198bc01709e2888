import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { RouteTableError } from './errors.js';
import { type Balance, type HealthCheck, type Route, type RouteInstance, type RouteKind, type RouteTable, routeName, routedBySni } from './types.js';

const KINDS: readonly RouteKind[] = ['tls-passthrough', 'tls-terminate', 'tcp', 'udp'];
const BALANCES: readonly Balance[] = ['round-robin', 'least-connections'];
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const APP_ID = /^[a-z0-9]{1,32}$/;
/** Bounds on what one table may hold, so a broken control plane cannot make the router allocate without end. */
export const MAX_ROUTES = 10_000;
export const MAX_INSTANCES = 1_000;

type Fields = Record<string, unknown>;

class Checker {
  constructor(readonly source: string) {}

  fail(where: string, detail: string): never {
    throw new RouteTableError(this.source, `${where}: ${detail}`);
  }

  object(value: unknown, where: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(where, 'must be an object');
    return value as Fields;
  }

  string(value: unknown, where: string, pattern?: RegExp, hint?: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(where, 'must be a non-empty string');
    if (pattern && !pattern.test(value)) this.fail(where, `"${value}" ${hint ?? `does not match ${pattern}`}`);
    return value;
  }

  port(value: unknown, where: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
      this.fail(where, 'must be a port number 1-65535');
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, options: readonly T[], where: string): T {
    if (!options.includes(value as T)) this.fail(where, `must be one of ${options.join(', ')}`);
    return value as T;
  }

  array(value: unknown, where: string, max: number): unknown[] {
    if (!Array.isArray(value)) this.fail(where, 'must be an array');
    if (value.length > max) this.fail(where, `has ${value.length} entries, at most ${max} are allowed`);
    return value;
  }
}

function isDomain(text: string): boolean {
  return text.length <= 200 && text.split('.').every((label) => LABEL.test(label));
}

function parseHealth(c: Checker, value: unknown, where: string): HealthCheck | undefined {
  if (value === undefined) return undefined;
  const h = c.object(value, where);
  const type = c.oneOf(h.type, ['tcp', 'http'] as const, `${where}.type`);
  if (type === 'tcp') return { type };
  return { type, path: c.string(h.path, `${where}.path`, /^\/[\x21-\x7e]*$/, 'must start with / and hold no spaces') };
}

function parseInstance(c: Checker, value: unknown, where: string): RouteInstance {
  const i = c.object(value, where);
  if (i.healthy !== undefined && typeof i.healthy !== 'boolean') c.fail(`${where}.healthy`, 'must be true or false');
  return {
    id: c.string(i.id, `${where}.id`, /^[\x21-\x7e]{1,128}$/, 'must be 1-128 printable characters'),
    host: c.string(i.host, `${where}.host`, /^[A-Za-z0-9.:-]{1,253}$/, 'must be an IP address or host name'),
    port: c.port(i.port, `${where}.port`),
    healthy: i.healthy !== false,
  };
}

function parseRoute(c: Checker, value: unknown, where: string, domain: string, baseDir: string): Route {
  const r = c.object(value, where);
  const app = c.string(r.app, `${where}.app`, LABEL, 'is not a DNS label (a-z 0-9 -)');
  const id = c.string(r.id, `${where}.id`, APP_ID, 'must be 1-32 of a-z 0-9');
  const zone = c.string(r.zone, `${where}.zone`, LABEL, 'is not a DNS label (a-z 0-9 -)');
  const host = `${app}-${id}.${zone}.${domain}`;
  if (r.host !== undefined && r.host !== host) c.fail(`${where}.host`, `"${String(r.host)}" must be "${host}"`);
  if (!LABEL.test(`${app}-${id}`)) c.fail(where, `"${app}-${id}" is longer than a DNS label (63)`);
  const kind = c.oneOf(r.kind, KINDS, `${where}.kind`);
  const route: Route = {
    app,
    id,
    zone,
    host,
    kind,
    balance: r.balance === undefined ? 'round-robin' : c.oneOf(r.balance, BALANCES, `${where}.balance`),
    health: parseHealth(c, r.health, `${where}.health`),
    instances: c
      .array(r.instances, `${where}.instances`, MAX_INSTANCES)
      .map((x, n) => parseInstance(c, x, `${where}.instances[${n}]`)),
  };
  if (r.listenPort !== undefined) route.listenPort = c.port(r.listenPort, `${where}.listenPort`);
  if (kind === 'udp' && route.listenPort === undefined) c.fail(`${where}.listenPort`, 'is required for a udp route');
  if (kind === 'tls-terminate') {
    const file = (v: unknown, name: string) => {
      const path = c.string(v, `${where}.${name}`);
      return isAbsolute(path) ? path : resolve(baseDir, path);
    };
    route.cert = file(r.cert, 'cert');
    route.key = file(r.key, 'key');
  }
  const ids = new Set<string>();
  for (const i of route.instances) {
    if (ids.has(i.id)) c.fail(`${where}.instances`, `instance id "${i.id}" appears twice`);
    ids.add(i.id);
  }
  return route;
}

/**
 * Checks a route table (parsed JSON) against the contract and returns it
 * normalised: balance defaults to round-robin, healthy to true, relative
 * cert/key paths are resolved against `baseDir`. Throws RouteTableError
 * naming the first bad field.
 */
export function parseRouteTable(value: unknown, source: string, baseDir = process.cwd()): RouteTable {
  const c = new Checker(source);
  const t = c.object(value, 'table');
  if (t.version !== 1) c.fail('version', `is ${JSON.stringify(t.version)}; this router reads version 1`);
  const domain = c.string(t.domain, 'domain').toLowerCase();
  if (!isDomain(domain)) c.fail('domain', `"${domain}" is not a domain name`);
  const routes = c
    .array(t.routes, 'routes', MAX_ROUTES)
    .map((r, n) => parseRoute(c, r, `routes[${n}]`, domain, baseDir));
  const names = new Set<string>();
  const ports = new Map<string, Route>();
  for (const r of routes) {
    // One app may publish several ports under one host: one by SNI, the others on ports of their own.
    const name = routeName(r);
    if (names.has(name)) c.fail('routes', `"${name}" appears twice`);
    names.add(name);
    if (routedBySni(r)) continue;
    const key = `${r.kind}/${r.listenPort}`;
    const other = ports.get(key);
    // The same app in several zones claims its port once per zone; another app may not.
    if (other && (other.app !== r.app || other.id !== r.id)) {
      c.fail('routes', `${r.host} and ${other.host} both claim ${r.kind} listenPort ${r.listenPort}`);
    }
    ports.set(key, other ?? r);
  }
  return { version: 1, domain, routes };
}

/** Parses route table JSON text; a syntax error is a RouteTableError like any other. */
export function parseRouteTableJson(text: string, source: string, baseDir?: string): RouteTable {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RouteTableError(source, `not JSON (${(err as Error).message})`);
  }
  return parseRouteTable(value, source, baseDir);
}

/** Reads and checks a routes file; relative cert/key paths are relative to the file. */
export async function readRouteTableFile(path: string): Promise<RouteTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RouteTableError(path, `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseRouteTableJson(text, path, dirname(resolve(path)));
}
