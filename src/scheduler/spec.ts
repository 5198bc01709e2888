/**
 * The app spec: what `cairn app deploy FILE` reads (YAML or JSON) and the
 * control plane stores. Validation is strict (unknown fields are errors, so a
 * typo is never silently ignored) and every error names the field it is about.
 * docs/SCHEDULER.md documents each field with an example.
 */
import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../errors/index.js';

export type PortProtocol = 'http' | 'tcp' | 'udp';
export type Balance = 'round-robin' | 'least-connections';

export interface PortSpec {
  /** The instance gets its port number in $PORT_<NAME> (and the first port also in $PORT). */
  name: string;
  protocol: PortProtocol;
  /** http only: the router terminates TLS (default) or passes it through to an app that serves TLS itself. */
  tls?: 'terminate' | 'passthrough';
  /** The router port for udp (required) or tcp (optional: without it, TCP is routed by TLS SNI). */
  listenPort?: number;
  balance: Balance;
  /** PEM files for `tls: terminate`; without them the control plane's certificate issuer (dev CA) provides them. */
  cert?: string;
  key?: string;
}

export interface VolumeMountSpec {
  name: string;
  path: string;
  readOnly: boolean;
}

export type HealthSpec = { type: 'tcp'; port: string } | { type: 'http'; path: string; port: string };

export interface AppSpec {
  name: string;
  command: string[];
  env: Record<string, string>;
  replicas: number;
  ports: PortSpec[];
  volumes: VolumeMountSpec[];
  /** Without one an instance is healthy while its container runs. */
  health?: HealthSpec;
  resources: { cpu: number; memoryBytes: number };
  constraints: { zones?: string[]; labels: Record<string, string> };
}

export class InvalidAppSpecError extends UsageError {
  constructor(source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = 'InvalidAppSpecError';
  }
}

/** App names become container names, instance ids and DNS labels (`<app>-<id>.<zone>.<domain>`). */
export const APP_NAME = /^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$/;
/** The rule of `cairn volume create` (src/cli/parse.ts), checked against it in the spec tests. */
export const VOLUME_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const PORT_NAME = /^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9._-]{0,63}$/;
export const ZONE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MEMORY = /^(\d+)\s*(KiB|MiB|GiB|Ki|Mi|Gi)?$/;
const MEMORY_UNITS: Record<string, number> = { '': 1, KiB: 2 ** 10, Ki: 2 ** 10, MiB: 2 ** 20, Mi: 2 ** 20, GiB: 2 ** 30, Gi: 2 ** 30 };

export const MAX_SPEC_BYTES = 1 << 20;
export const MAX_REPLICAS = 64;
const MAX_PORTS = 16;
const MAX_VOLUMES = 16;
export const DEFAULT_CPU = 0.1;
export const DEFAULT_MEMORY_BYTES = 64 * 2 ** 20;

/** `PORT_<NAME>` for a port name (dashes become underscores). */
export const portEnvName = (port: string) => `PORT_${port.toUpperCase().replaceAll('-', '_')}`;

const FIELDS = ['name', 'command', 'env', 'replicas', 'ports', 'volumes', 'health', 'resources', 'constraints'];

type Fields = Record<string, unknown>;

/** Walks an untrusted document, failing with the path of the first field that is wrong. */
class Check {
  constructor(readonly source: string) {}

  fail(where: string, detail: string): never {
    throw new InvalidAppSpecError(this.source, `${where}: ${detail}`);
  }

  object(value: unknown, where: string, allowed: readonly string[]): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(where, 'must be a mapping');
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail(where, `unknown field "${key}" (known: ${allowed.join(', ')})`);
    }
    return value as Fields;
  }

  map(value: unknown, where: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(where, 'must be a mapping');
    return value as Fields;
  }

  string(value: unknown, where: string, pattern?: RegExp, rule?: string): string {
    if (typeof value !== 'string') this.fail(where, 'must be a string (quote it if it looks like a number)');
    if (pattern && !pattern.test(value)) this.fail(where, `"${value}" ${rule ?? `must match ${pattern}`}`);
    return value;
  }

  array(value: unknown, where: string, max: number): unknown[] {
    if (!Array.isArray(value)) this.fail(where, 'must be a list');
    if (value.length > max) this.fail(where, `has ${value.length} entries; at most ${max}`);
    return value;
  }

  integer(value: unknown, where: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(where, `must be a whole number from ${min} to ${max}`);
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, options: readonly T[], where: string): T {
    if (!options.includes(value as T)) this.fail(where, `must be one of ${options.join(', ')}`);
    return value as T;
  }
}

function parseCommand(c: Check, value: unknown): string[] {
  if (value === undefined) c.fail('command', 'is required (a list of arguments, or a string run by sh -c)');
  if (typeof value === 'string') {
    if (value.trim() === '') c.fail('command', 'must not be empty');
    return ['sh', '-c', value];
  }
  const argv = c.array(value, 'command', 4096).map((a, i) => c.string(a, `command[${i}]`));
  if (argv.length === 0 || argv[0] === '') c.fail('command', 'must not be empty');
  if (argv.some((a) => a.includes('\0'))) c.fail('command', 'must not contain NUL bytes');
  return argv;
}

function parseEnv(c: Check, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  const env: Record<string, string> = {};
  for (const [key, v] of Object.entries(c.map(value, 'env'))) {
    c.string(key, `env.${key}`, ENV_NAME, 'is not an environment variable name');
    if (key === 'PORT' || key.startsWith('PORT_')) c.fail(`env.${key}`, 'is set by the node agent to the port it gives the instance');
    env[key] = c.string(v, `env.${key}`);
    if (env[key].includes('\0')) c.fail(`env.${key}`, 'must not contain NUL bytes');
  }
  return env;
}

function parsePort(c: Check, value: unknown, where: string): PortSpec {
  const p = c.object(value, where, ['name', 'protocol', 'tls', 'listenPort', 'balance', 'cert', 'key']);
  const name = c.string(p.name, `${where}.name`, PORT_NAME, 'is not a port name (1-16 of a-z 0-9 -, starting with a letter)');
  const protocol = c.oneOf(p.protocol, ['http', 'tcp', 'udp'] as const, `${where}.protocol`);
  const port: PortSpec = {
    name,
    protocol,
    balance: p.balance === undefined ? 'round-robin' : c.oneOf(p.balance, ['round-robin', 'least-connections'] as const, `${where}.balance`),
  };
  if (p.tls !== undefined) {
    if (protocol !== 'http') c.fail(`${where}.tls`, 'applies to http ports only');
    port.tls = c.oneOf(p.tls, ['terminate', 'passthrough'] as const, `${where}.tls`);
  } else if (protocol === 'http') {
    port.tls = 'terminate';
  }
  if (p.listenPort !== undefined) {
    if (protocol === 'http') c.fail(`${where}.listenPort`, 'http ports are routed by name (TLS SNI), not by port');
    port.listenPort = c.integer(p.listenPort, `${where}.listenPort`, 1, 65535);
  } else if (protocol === 'udp') {
    c.fail(`${where}.listenPort`, 'is required for a udp port (the router port that carries it)');
  }
  if (p.cert !== undefined || p.key !== undefined) {
    if (port.tls !== 'terminate') c.fail(`${where}.cert`, 'cert and key apply to http ports with tls: terminate');
    const file = (v: unknown, field: string) =>
      c.string(v, `${where}.${field}`, /^\/\S*$/, 'must be an absolute path (cert and key go together)');
    port.cert = file(p.cert, 'cert');
    port.key = file(p.key, 'key');
  }
  return port;
}

function parsePorts(c: Check, value: unknown): PortSpec[] {
  if (value === undefined) return [];
  const ports = c.array(value, 'ports', MAX_PORTS).map((p, i) => parsePort(c, p, `ports[${i}]`));
  const names = new Set<string>();
  const listen = new Set<string>();
  ports.forEach((p, i) => {
    if (names.has(p.name)) c.fail(`ports[${i}].name`, `"${p.name}" is used twice`);
    names.add(p.name);
    if (p.listenPort !== undefined) {
      const key = `${p.protocol === 'udp' ? 'udp' : 'tcp'}/${p.listenPort}`;
      if (listen.has(key)) c.fail(`ports[${i}].listenPort`, `${key} is used twice`);
      listen.add(key);
    }
  });
  // The app has one name per zone; the router can tell only one port apart by it.
  const byName = ports.filter((p) => p.listenPort === undefined);
  if (byName.length > 1) {
    c.fail('ports', `${byName.map((p) => p.name).join(' and ')} are both routed by name; give all but one a listenPort`);
  }
  return ports;
}

function parseVolumes(c: Check, value: unknown): VolumeMountSpec[] {
  if (value === undefined) return [];
  const volumes = c.array(value, 'volumes', MAX_VOLUMES).map((v, i) => {
    const where = `volumes[${i}]`;
    const m = c.object(v, where, ['name', 'path', 'readOnly']);
    const path = c.string(m.path, `${where}.path`);
    if (!path.startsWith('/') || posix.normalize(path) !== path || path === '/' || path.endsWith('/')) {
      c.fail(`${where}.path`, `"${path}" must be a normalized absolute path other than /`);
    }
    if (m.readOnly !== undefined && typeof m.readOnly !== 'boolean') c.fail(`${where}.readOnly`, 'must be true or false');
    return {
      name: c.string(m.name, `${where}.name`, VOLUME_NAME, 'is not a volume name (1-63 of a-z 0-9 . _ -)'),
      path,
      readOnly: m.readOnly === true,
    };
  });
  volumes.forEach((v, i) => {
    if (volumes.findIndex((w) => w.path === v.path) !== i) c.fail(`volumes[${i}].path`, `${v.path} is used twice`);
    if (volumes.findIndex((w) => w.name === v.name) !== i) c.fail(`volumes[${i}].name`, `${v.name} is mounted twice`);
  });
  return volumes;
}

function parseHealth(c: Check, value: unknown, ports: PortSpec[]): HealthSpec | undefined {
  if (value === undefined) return undefined;
  const h = c.object(value, 'health', ['type', 'path', 'port']);
  const type = c.oneOf(h.type, ['tcp', 'http'] as const, 'health.type');
  const streams = ports.filter((p) => p.protocol !== 'udp');
  let port: string;
  if (h.port === undefined) {
    if (streams.length === 0) c.fail('health', 'needs a tcp or http port to check; declare one under ports');
    port = streams[0].name;
  } else {
    port = c.string(h.port, 'health.port');
    if (!streams.some((p) => p.name === port)) c.fail('health.port', `"${port}" is not one of the app's tcp or http ports`);
  }
  if (type === 'tcp') {
    if (h.path !== undefined) c.fail('health.path', 'applies to http checks only');
    return { type, port };
  }
  const path = c.string(h.path, 'health.path', /^\/[\x21-\x7e]*$/, 'must start with / and hold no spaces');
  return { type, path, port };
}

function parseMemory(c: Check, value: unknown): number {
  if (value === undefined) return DEFAULT_MEMORY_BYTES;
  const text = typeof value === 'number' ? String(value) : c.string(value, 'resources.memory');
  const match = MEMORY.exec(text.trim());
  const bytes = match ? Number(match[1]) * MEMORY_UNITS[match[2] ?? ''] : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 2 ** 20) {
    c.fail('resources.memory', `"${text}" is not a memory size of at least 1 MiB; use e.g. 64MiB or 1GiB`);
  }
  return bytes;
}

function parseResources(c: Check, value: unknown): AppSpec['resources'] {
  if (value === undefined) return { cpu: DEFAULT_CPU, memoryBytes: DEFAULT_MEMORY_BYTES };
  const r = c.object(value, 'resources', ['cpu', 'memory']);
  if (r.cpu !== undefined && (typeof r.cpu !== 'number' || !(r.cpu > 0 && r.cpu <= 1024))) {
    c.fail('resources.cpu', 'must be a number of cores above 0 (e.g. 0.5), at most 1024');
  }
  return { cpu: (r.cpu as number | undefined) ?? DEFAULT_CPU, memoryBytes: parseMemory(c, r.memory) };
}

function parseLabels(c: Check, value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  const labels: Record<string, string> = {};
  for (const [key, v] of Object.entries(c.map(value, where))) {
    c.string(key, `${where}.${key}`, LABEL_KEY, 'is not a label key (a-z 0-9 . _ / -)');
    labels[key] = c.string(v, `${where}.${key}`, LABEL_VALUE, 'is not a label value (up to 63 of A-Z a-z 0-9 . _ -)');
  }
  return labels;
}

function parseConstraints(c: Check, value: unknown): AppSpec['constraints'] {
  if (value === undefined) return { labels: {} };
  const k = c.object(value, 'constraints', ['zones', 'labels']);
  const constraints: AppSpec['constraints'] = { labels: parseLabels(c, k.labels, 'constraints.labels') };
  if (k.zones !== undefined) {
    const zones = c.array(k.zones, 'constraints.zones', 64).map((z, i) => c.string(z, `constraints.zones[${i}]`, ZONE, 'is not a zone name'));
    if (zones.length === 0) c.fail('constraints.zones', 'must name at least one zone (or leave it out)');
    constraints.zones = zones;
  }
  return constraints;
}

/** Validates a parsed document (from YAML, JSON or an HTTP body) into an AppSpec. */
export function validateAppSpec(doc: unknown, source = 'app spec'): AppSpec {
  const c = new Check(source);
  const d = c.object(doc, 'the spec', FIELDS);
  const name = c.string(d.name, 'name', APP_NAME, 'is not an app name (1-30 of a-z 0-9 -, starting with a letter)');
  const ports = parsePorts(c, d.ports);
  const volumes = parseVolumes(c, d.volumes);
  const replicas = d.replicas === undefined ? 1 : c.integer(d.replicas, 'replicas', 0, MAX_REPLICAS);
  const writable = volumes.find((v) => !v.readOnly);
  if (writable && replicas > 1) {
    c.fail(
      'replicas',
      `${replicas} replicas cannot share the read-write volume "${writable.name}" (one writer at a time); ` +
        'use replicas: 1, or mount it readOnly: true',
    );
  }
  const spec: AppSpec = {
    name,
    command: parseCommand(c, d.command),
    env: parseEnv(c, d.env),
    replicas,
    ports,
    volumes,
    resources: parseResources(c, d.resources),
    constraints: parseConstraints(c, d.constraints),
  };
  const health = parseHealth(c, d.health, ports);
  if (health) spec.health = health;
  return spec;
}

/** Parses a spec file's text: YAML, of which JSON is a subset. */
export function parseAppSpec(text: string, source = 'app spec'): AppSpec {
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) throw new InvalidAppSpecError(source, `larger than ${MAX_SPEC_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new InvalidAppSpecError(source, `not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return validateAppSpec(doc, source);
}

/** `k=v,k2=v2` (the node agent's --labels) into labels, with the rules of an app's constraints.labels. */
export function parseNodeLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').filter((p) => p.trim() !== '')) {
    const at = pair.indexOf('=');
    if (at < 0) throw new UsageError(`label "${pair}" is not key=value`);
    const key = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    if (!LABEL_KEY.test(key)) throw new UsageError(`label key "${key}" is not a label key (a-z 0-9 . _ / -)`);
    if (!LABEL_VALUE.test(value)) throw new UsageError(`label value "${value}" is not a label value (up to 63 of A-Z a-z 0-9 . _ -)`);
    labels[key] = value;
  }
  return labels;
}

/** The volumes an app writes to: each may be attached read-write to one instance in the whole cluster. */
export const writableVolumes = (spec: AppSpec): string[] => spec.volumes.filter((v) => !v.readOnly).map((v) => v.name);
