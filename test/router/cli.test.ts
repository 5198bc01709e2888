import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cairn } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('cairn router (command line)', () => {
  const dir = tempDir('router-cli');
  const routes = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  const usage: [string, string[], RegExp][] = [
    ['no route source', ['router', 'start'], /give one of --routes FILE or --control URL/],
    ['both route sources', ['router', 'start', '--routes', 'x.json', '--control', 'http://127.0.0.1:1'], /give one of/],
    ['a bad port', ['router', 'start', '--routes', 'x.json', '--listen-tls', '99999'], /"99999" is not a port number/],
    ['a bad duration', ['router', 'start', '--routes', 'x.json', '--hello-timeout', 'soon'], /"soon" is not a duration/],
    ['a control URL that is not http', ['router', 'start', '--control', 'ftp://127.0.0.1/'], /--control needs an http\(s\) URL/],
  ];
  for (const [what, args, message] of usage) {
    it(`${what} is a usage error (exit 2)`, () => {
      const r = cairn(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    });
  }

  const broken: [string, string, RegExp][] = [
    ['not JSON', '{"version": 1', /is invalid: not JSON/],
    ['a bad route', JSON.stringify({ version: 1, domain: 'cairn.test', routes: [{ app: 'web' }] }), /routes\[0\]\.id: must be a non-empty string/],
  ];
  for (const [what, text, message] of broken) {
    it(`a routes file with ${what} is refused at start (exit 1)`, () => {
      const file = routes(`${what.replace(/ /g, '-')}.json`, text);
      const r = cairn(['router', 'start', '--routes', file, '--listen-tls', '0', '--metrics', '0']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`cairn: route table from ${file.replace(/[.]/g, '\\.')} is invalid`));
      expect(r.stderr).toMatch(message);
    });
  }

  it('a missing routes file is refused at start', () => {
    const r = cairn(['router', 'start', '--routes', join(dir, 'nope.json'), '--listen-tls', '0', '--metrics', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nope\.json is invalid: cannot read it \(ENOENT\)/);
  });

  it('a TLS port in use is a clear error', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const file = routes('empty.json', JSON.stringify({ version: 1, domain: 'cairn.test', routes: [] }));
      const r = cairn(['router', 'start', '--routes', file, '--listen-tls', String(port), '--metrics', '0']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port} for the TLS port: the port is in use; pick another with --listen-tls`);
    } finally {
      taken.close();
    }
  });

  it('cairn router cert issues certificates and prints paths, never key material', () => {
    const base = join(dir, 'dev');
    const r = cairn(['router', 'cert', 'web-a1b2c3.z1.cairn.test', 'api-b1b2c3.z1.cairn.test', '--dir', base]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`dev CA certificate (give it to clients to trust): ${join(base, 'ca', 'ca.crt')}`);
    const key = join(base, 'certs', 'api-b1b2c3.z1.cairn.test.key');
    expect(r.stdout).toContain(`api-b1b2c3.z1.cairn.test: cert ${join(base, 'certs', 'api-b1b2c3.z1.cairn.test.crt')} key ${key}`);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const pem = readFileSync(key, 'utf8');
    expect(pem).toContain('PRIVATE KEY');
    expect(`${r.stdout}${r.stderr}`).not.toContain('PRIVATE KEY');
    expect(`${r.stdout}${r.stderr}`).not.toContain(pem.split('\n')[1]);
  });

  it('cairn router cert refuses a bad host name', () => {
    const r = cairn(['router', 'cert', 'not a host', '--dir', join(dir, 'dev')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"not a host" is not a host name/);
  });
});
