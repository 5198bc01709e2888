import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DevCaError, ensureDevCa, issueCertificate } from '../../src/router/index.js';
import { tempDir } from '../helpers/tmp.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('dev certificate authority', () => {
  const root = tempDir('router-ca');

  it('makes a CA once, with its files readable by the owner only', async () => {
    const ca = await ensureDevCa(join(root, 'ca'));
    expect(mode(ca.key)).toBe(0o600);
    expect(mode(ca.cert)).toBe(0o600);
    expect(mode(ca.dir)).toBe(0o700);
    const cert = new X509Certificate(readFileSync(ca.cert));
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    const key = readFileSync(ca.key);
    const again = await ensureDevCa(join(root, 'ca'));
    expect(readFileSync(again.key).equals(key)).toBe(true);
  });

  it('issues a server certificate for a host that openssl verifies against the CA', async () => {
    const ca = await ensureDevCa(join(root, 'ca'));
    const host = 'web-a1b2c3.z1.cairn.test';
    const issued = await issueCertificate(ca, host, join(root, 'certs'));
    expect(mode(issued.key)).toBe(0o600);
    expect(mode(issued.cert)).toBe(0o600);
    const verify = spawnSync('openssl', ['verify', '-CAfile', ca.cert, '-purpose', 'sslserver', issued.cert], {
      encoding: 'utf8',
    });
    expect(verify.stdout.trim()).toBe(`${issued.cert}: OK`);
    const cert = new X509Certificate(readFileSync(issued.cert));
    expect(cert.subjectAltName).toBe(`DNS:${host}`);
    expect(cert.checkHost('other-a1b2c3.z1.cairn.test')).toBeUndefined();
    expect(cert.ca).toBe(false);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(issued.key)))).toBe(true);
  });

  it('keeps a valid certificate instead of issuing another', async () => {
    const ca = await ensureDevCa(join(root, 'ca'));
    const first = await issueCertificate(ca, 'keep-x.z1.cairn.test', join(root, 'certs'));
    const before = readFileSync(first.cert);
    const second = await issueCertificate(ca, 'keep-x.z1.cairn.test', join(root, 'certs'));
    expect(readFileSync(second.cert).equals(before)).toBe(true);
  });

  it('issues again when the certificate on disk is not from this CA', async () => {
    const certs = join(root, 'certs2');
    const other = await ensureDevCa(join(root, 'other-ca'));
    const ca = await ensureDevCa(join(root, 'ca'));
    const foreign = await issueCertificate(other, 'moved-x.z1.cairn.test', certs);
    const before = readFileSync(foreign.cert);
    const mine = await issueCertificate(ca, 'moved-x.z1.cairn.test', certs);
    expect(readFileSync(mine.cert).equals(before)).toBe(false);
    const caCert = new X509Certificate(readFileSync(ca.cert));
    expect(new X509Certificate(readFileSync(mine.cert)).verify(caCert.publicKey)).toBe(true);
  });

  it('two processes racing to make the CA end up with one', async () => {
    const [a, b] = await Promise.all([ensureDevCa(join(root, 'race')), ensureDevCa(join(root, 'race'))]);
    expect(a).toEqual(b);
    const cert = new X509Certificate(readFileSync(a.cert));
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(a.key)))).toBe(true);
  });

  it('refuses a host name that is not one', async () => {
    const ca = await ensureDevCa(join(root, 'ca'));
    for (const host of ['', 'nodots', 'bad name.test', 'a,DNS:evil.test', '-x.test']) {
      await expect(issueCertificate(ca, host, join(root, 'certs')), host).rejects.toThrow(DevCaError);
    }
  });
});
