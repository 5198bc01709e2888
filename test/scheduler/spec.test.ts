import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseVolumeName } from '../../src/cli/parse.js';
import { UsageError } from '../../src/errors/index.js';
import {
  InvalidAppSpecError,
  MAX_SPEC_BYTES,
  VOLUME_NAME,
  parseAppSpec,
  parseNodeLabels,
  portEnvName,
  validateAppSpec,
} from '../../src/scheduler/spec.js';
import { REPO } from '../helpers/cli.js';

/** The example spec of docs/SCHEDULER.md, so the documentation stays a spec that deploys. */
function docExample(): string {
  const doc = readFileSync(join(REPO, 'docs', 'SCHEDULER.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## The app spec'));
  const match = /```yaml\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('no yaml example under "## The app spec" in docs/SCHEDULER.md');
  return match[1];
}

const minimal = { name: 'web', command: ['httpd', '-f'] };

describe('app specs', () => {
  it('the documented example is valid and means what its comments say', () => {
    const spec = parseAppSpec(docExample(), 'SCHEDULER.md');
    expect(spec.name).toBe('notes');
    expect(spec.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(spec.command[2]).toMatch(/exec httpd -f -p "\$PORT" -h \/data/);
    expect(spec.env).toEqual({ GREETING: 'hello' });
    expect(spec.ports).toEqual([
      { name: 'web', protocol: 'http', tls: 'terminate', balance: 'round-robin' },
      { name: 'stats', protocol: 'udp', listenPort: 9125, balance: 'round-robin' },
    ]);
    expect(spec.volumes).toEqual([{ name: 'notes', path: '/data', readOnly: false }]);
    expect(spec.health).toEqual({ type: 'http', path: '/index.html', port: 'web' });
    expect(spec.resources).toEqual({ cpu: 0.25, memoryBytes: 64 * 2 ** 20 });
    expect(spec.constraints).toEqual({ zones: ['z1', 'z2'], labels: { disk: 'ssd' } });
  });

  it('JSON is accepted too, and omitted fields get their defaults', () => {
    const spec = parseAppSpec(JSON.stringify({ ...minimal, ports: [{ name: 'api', protocol: 'tcp' }] }));
    expect(spec).toEqual({
      name: 'web',
      command: ['httpd', '-f'],
      env: {},
      replicas: 1,
      ports: [{ name: 'api', protocol: 'tcp', balance: 'round-robin' }],
      volumes: [],
      resources: { cpu: 0.1, memoryBytes: 64 * 2 ** 20 },
      constraints: { labels: {} },
    });
  });

  it('memory sizes take binary units; health defaults to the first stream port', () => {
    const spec = validateAppSpec({
      ...minimal,
      ports: [
        { name: 'metrics', protocol: 'udp', listenPort: 9000 },
        { name: 'main', protocol: 'http', tls: 'passthrough' },
      ],
      health: { type: 'tcp' },
      resources: { memory: '1Gi', cpu: 2 },
    });
    expect(spec.resources).toEqual({ cpu: 2, memoryBytes: 2 ** 30 });
    expect(spec.health).toEqual({ type: 'tcp', port: 'main' });
    expect(validateAppSpec({ ...minimal, resources: { memory: 2 ** 21 } }).resources.memoryBytes).toBe(2 ** 21);
    expect(validateAppSpec({ ...minimal, resources: { memory: '512 MiB' } }).resources.memoryBytes).toBe(512 * 2 ** 20);
  });

  it('a read-only volume may be shared by many replicas', () => {
    const spec = validateAppSpec({ ...minimal, replicas: 3, volumes: [{ name: 'site', path: '/srv', readOnly: true }] });
    expect(spec.replicas).toBe(3);
  });

  const bad: [string, unknown, RegExp][] = [
    ['a list, not a mapping', [1, 2], /the spec: must be a mapping/],
    ['a misspelt field', { ...minimal, replica: 2 }, /unknown field "replica"/],
    ['an upper-case name', { ...minimal, name: 'Web' }, /name: "Web" is not an app name/],
    ['a name too long for a DNS label with its id', { ...minimal, name: 'a'.repeat(31) }, /is not an app name/],
    ['no command', { name: 'web' }, /command: is required/],
    ['an empty command', { ...minimal, command: [] }, /command: must not be empty/],
    ['a blank command string', { ...minimal, command: '  ' }, /command: must not be empty/],
    ['a command argument that is a number', { ...minimal, command: ['sleep', 5] }, /command\[1\]: must be a string/],
    ['an env value that is a number', { ...minimal, env: { N: 3 } }, /env\.N: must be a string \(quote it/],
    ['an env name with a dash', { ...minimal, env: { 'A-B': 'x' } }, /env\.A-B: "A-B" is not an environment variable name/],
    ['PORT in env', { ...minimal, env: { PORT: '80' } }, /env\.PORT: is set by the node agent/],
    ['negative replicas', { ...minimal, replicas: -1 }, /replicas: must be a whole number from 0 to 64/],
    ['fractional replicas', { ...minimal, replicas: 1.5 }, /replicas: must be a whole number/],
    ['too many replicas', { ...minimal, replicas: 65 }, /replicas: must be a whole number from 0 to 64/],
    ['an unknown protocol', { ...minimal, ports: [{ name: 'f', protocol: 'ftp' }] }, /ports\[0\]\.protocol: must be one of http, tcp, udp/],
    ['udp without listenPort', { ...minimal, ports: [{ name: 'u', protocol: 'udp' }] }, /ports\[0\]\.listenPort: is required for a udp port/],
    ['http with listenPort', { ...minimal, ports: [{ name: 'h', protocol: 'http', listenPort: 80 }] }, /routed by name/],
    ['a listenPort out of range', { ...minimal, ports: [{ name: 'u', protocol: 'udp', listenPort: 70000 }] }, /listenPort: must be a whole number from 1 to 65535/],
    ['tls on a tcp port', { ...minimal, ports: [{ name: 't', protocol: 'tcp', tls: 'terminate' }] }, /ports\[0\]\.tls: applies to http ports only/],
    ['a cert without a key', { ...minimal, ports: [{ name: 'h', protocol: 'http', cert: '/c.pem' }] }, /ports\[0\]\.key: must be a string/],
    ['a relative cert path', { ...minimal, ports: [{ name: 'h', protocol: 'http', cert: 'c.pem', key: '/k' }] }, /ports\[0\]\.cert: "c\.pem" must be an absolute path/],
    [
      'a port name used twice',
      { ...minimal, ports: [{ name: 'a', protocol: 'udp', listenPort: 1 }, { name: 'a', protocol: 'udp', listenPort: 2 }] },
      /ports\[1\]\.name: "a" is used twice/,
    ],
    [
      'two ports routed by name',
      { ...minimal, ports: [{ name: 'a', protocol: 'http' }, { name: 'b', protocol: 'tcp' }] },
      /a and b are both routed by name/,
    ],
    [
      'a listenPort used twice',
      { ...minimal, ports: [{ name: 'a', protocol: 'udp', listenPort: 5 }, { name: 'b', protocol: 'udp', listenPort: 5 }] },
      /ports\[1\]\.listenPort: udp\/5 is used twice/,
    ],
    ['a relative volume path', { ...minimal, volumes: [{ name: 'v', path: 'data' }] }, /volumes\[0\]\.path: "data" must be a normalized absolute path/],
    ['a volume at /', { ...minimal, volumes: [{ name: 'v', path: '/' }] }, /volumes\[0\]\.path: "\/" must be a normalized absolute path other than \//],
    ['a volume path with ..', { ...minimal, volumes: [{ name: 'v', path: '/a/../b' }] }, /must be a normalized absolute path/],
    ['a bad volume name', { ...minimal, volumes: [{ name: 'Bad!', path: '/d' }] }, /volumes\[0\]\.name: "Bad!" is not a volume name/],
    ['readOnly as a string', { ...minimal, volumes: [{ name: 'v', path: '/d', readOnly: 'yes' }] }, /volumes\[0\]\.readOnly: must be true or false/],
    [
      'the same volume twice',
      { ...minimal, volumes: [{ name: 'v', path: '/a' }, { name: 'v', path: '/b' }] },
      /volumes\[1\]\.name: v is mounted twice/,
    ],
    [
      'replicas sharing a read-write volume',
      { ...minimal, replicas: 2, volumes: [{ name: 'db', path: '/data' }] },
      /replicas: 2 replicas cannot share the read-write volume "db" \(one writer at a time\)/,
    ],
    ['an http check without a path', { ...minimal, ports: [{ name: 'h', protocol: 'http' }], health: { type: 'http' } }, /health\.path: must be a string/],
    ['a check without ports', { ...minimal, health: { type: 'tcp' } }, /health: needs a tcp or http port/],
    [
      'a check on a udp port',
      { ...minimal, ports: [{ name: 'u', protocol: 'udp', listenPort: 9 }], health: { type: 'tcp', port: 'u' } },
      /health\.port: "u" is not one of the app's tcp or http ports/,
    ],
    ['a path on a tcp check', { ...minimal, ports: [{ name: 't', protocol: 'tcp' }], health: { type: 'tcp', path: '/' } }, /health\.path: applies to http checks only/],
    ['zero cpu', { ...minimal, resources: { cpu: 0 } }, /resources\.cpu: must be a number of cores above 0/],
    ['memory in words', { ...minimal, resources: { memory: 'lots' } }, /resources\.memory: "lots" is not a memory size/],
    ['memory below 1 MiB', { ...minimal, resources: { memory: '512KiB' } }, /is not a memory size of at least 1 MiB/],
    ['memory in SI units', { ...minimal, resources: { memory: '64MB' } }, /is not a memory size/],
    ['an empty zone list', { ...minimal, constraints: { zones: [] } }, /constraints\.zones: must name at least one zone/],
    ['a bad label value', { ...minimal, constraints: { labels: { disk: 'a b' } } }, /constraints\.labels\.disk: "a b" is not a label value/],
  ];

  for (const [what, doc, message] of bad) {
    it(`refuses ${what}`, () => {
      let error: unknown;
      try {
        validateAppSpec(doc, 'web.yaml');
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(InvalidAppSpecError);
      // A usage error: the CLI exits 2 and prints the one line.
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(/^web\.yaml: /);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    });
  }

  it('refuses text that is not YAML, and oversized files', () => {
    expect(() => parseAppSpec('name: [web', 'x.yaml')).toThrow(/^x\.yaml: not valid YAML or JSON/);
    expect(() => parseAppSpec('{"name": "web",', 'x.json')).toThrow(/^x\.json: not valid YAML or JSON/);
    expect(() => parseAppSpec(`# ${'x'.repeat(MAX_SPEC_BYTES)}\nname: web`, 'big.yaml')).toThrow(/^big\.yaml: larger than/);
    expect(() => parseAppSpec('', 'empty.yaml')).toThrow(/^empty\.yaml: the spec: must be a mapping/);
  });

  it('a YAML alias bomb is refused, not expanded', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    expect(() => parseAppSpec(lines.join('\n'), 'bomb.yaml')).toThrow(/^bomb\.yaml: not valid YAML or JSON/);
  });

  it('volume names follow the rule of `cairn volume create`', () => {
    for (const name of ['data', 'a', 'db.v2', 'x_y-z', '0day', 'a'.repeat(63), 'A', '-a', '.a', 'a b', 'a'.repeat(64), '']) {
      let cli = true;
      try {
        parseVolumeName(name);
      } catch {
        cli = false;
      }
      expect(VOLUME_NAME.test(name), name).toBe(cli);
    }
  });

  it('port environment names', () => {
    expect(portEnvName('web')).toBe('PORT_WEB');
    expect(portEnvName('admin-api')).toBe('PORT_ADMIN_API');
  });
});

describe('node labels (--labels)', () => {
  it('parses k=v lists', () => {
    expect(parseNodeLabels('disk=ssd, gpu=none,rack=r1')).toEqual({ disk: 'ssd', gpu: 'none', rack: 'r1' });
    expect(parseNodeLabels('')).toEqual({});
  });

  it('refuses malformed ones', () => {
    expect(() => parseNodeLabels('disk')).toThrow(/label "disk" is not key=value/);
    expect(() => parseNodeLabels('Disk=ssd')).toThrow(/label key "Disk" is not a label key/);
    expect(() => parseNodeLabels('disk=s s')).toThrow(/label value "s s" is not a label value/);
  });
});
