/**
 * The local development certificate authority: a P-256 CA key and
 * self-signed certificate, and per-app server certificates it signs, for
 * routes that terminate TLS. Keys are made with Node's crypto and written
 * 0600 (never logged, never on a command line); certificates are made by
 * the openssl command line (Debian's openssl package), which reads the keys
 * from those files. For development only: whoever trusts this CA trusts
 * every certificate its key signs.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPair } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DevCaError } from './errors.js';

const run = promisify(execFile);
const generate = promisify(generateKeyPair);

export interface DevCa {
  dir: string;
  /** The CA certificate clients trust (PEM). */
  cert: string;
  key: string;
}

export interface IssuedCert {
  host: string;
  cert: string;
  key: string;
}

const CA_DAYS = 3650;
const LEAF_DAYS = 90;
/** A certificate with less than this left is issued again. */
const RENEW_BEFORE_MS = 14 * 24 * 3600 * 1000;
const HOST = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

const caPaths = (dir: string) => ({ dir, cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') });

async function newKey(path: string): Promise<void> {
  const { privateKey } = await generate('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await writeFile(path, pem, { mode: 0o600, flag: 'wx' });
}

/** Runs `openssl req -x509` with a minimal config naming the subject; the output file is made 0600. */
async function openssl(work: string, subject: string, args: string[], out: string): Promise<void> {
  const config = join(work, 'req.cnf');
  await writeFile(config, `[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = ${subject}\n`, { mode: 0o600 });
  try {
    await run('openssl', ['req', '-x509', '-new', '-config', config, '-sha256', ...args, '-out', out], {
      timeout: 30_000,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new DevCaError('openssl is not installed; run `npm run setup` or `apt-get install openssl`');
    }
    throw new DevCaError(`openssl could not make the certificate for ${subject}: ${(e.stderr ?? e.message).trim()}`);
  }
  await chmod(out, 0o600);
}

async function exists(path: string): Promise<boolean> {
  try {
    await readFile(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The CA in `dir`, created when missing. It is built in a temporary
 * directory renamed into place, so two processes racing here end up sharing
 * one CA, never a key and a certificate from different ones.
 */
export async function ensureDevCa(dir: string): Promise<DevCa> {
  const ca = caPaths(dir);
  if ((await exists(ca.cert)) && (await exists(ca.key))) return ca;
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  const work = await mkdtemp(`${dir}.tmp-`);
  try {
    const tmp = caPaths(work);
    await newKey(tmp.key);
    await openssl(
      work,
      'Cairn development CA',
      [
        '-key',
        tmp.key,
        '-days',
        String(CA_DAYS),
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      tmp.cert,
    );
    await rm(join(work, 'req.cnf'));
    try {
      await rename(work, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (!(await exists(ca.cert)) || !(await exists(ca.key))) {
    throw new DevCaError(`${dir} exists but holds no ca.crt and ca.key; remove it to make a new CA`);
  }
  return ca;
}

/** True when the files form a pair signed by the CA and valid for a while yet. */
async function usable(ca: DevCa, issued: IssuedCert): Promise<boolean> {
  try {
    const cert = new X509Certificate(await readFile(issued.cert));
    const caCert = new X509Certificate(await readFile(ca.cert));
    const key = createPrivateKey(await readFile(issued.key));
    return (
      cert.verify(caCert.publicKey) &&
      cert.checkPrivateKey(key) &&
      cert.checkHost(issued.host) === issued.host &&
      Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS
    );
  } catch {
    return false;
  }
}

/**
 * A server certificate for `host` signed by the CA, as `<outDir>/<host>.crt`
 * and `<host>.key` (both 0600). An existing pair is kept while it is valid
 * for RENEW_BEFORE_MS more.
 */
export async function issueCertificate(ca: DevCa, host: string, outDir: string): Promise<IssuedCert> {
  const name = host.toLowerCase();
  if (!HOST.test(name)) throw new DevCaError(`"${host}" is not a host name a certificate can be issued for`);
  const issued = { host: name, cert: join(outDir, `${name}.crt`), key: join(outDir, `${name}.key`) };
  if (await usable(ca, issued)) return issued;
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(outDir, `.${name}.tmp-`));
  try {
    const key = join(work, 'key.pem');
    const cert = join(work, 'cert.pem');
    await newKey(key);
    await openssl(
      work,
      name,
      [
        '-key',
        key,
        '-CA',
        ca.cert,
        '-CAkey',
        ca.key,
        '-days',
        String(LEAF_DAYS),
        '-addext',
        `subjectAltName=DNS:${name}`,
        '-addext',
        'basicConstraints=critical,CA:FALSE',
        '-addext',
        'keyUsage=critical,digitalSignature',
        '-addext',
        'extendedKeyUsage=serverAuth',
      ],
      cert,
    );
    await rename(key, issued.key);
    await rename(cert, issued.cert);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return issued;
}
