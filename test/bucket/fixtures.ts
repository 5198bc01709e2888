import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll } from 'vitest';
import { type S3rverOptions, S3rverProcess } from './s3rver.js';

/** An s3rver process for this test file, stopped and removed after its tests, pass or fail. */
export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverProcess> {
  const server = await S3rverProcess.start(options);
  afterAll(() => server.destroy());
  return server;
}

/** The most requests the server handled at once since the last call. */
export async function maxInflight(server: S3rverProcess): Promise<number> {
  const res = await fetch(`${server.endpoint}/_test/inflight`);
  return (JSON.parse(await res.text()) as { max: number }).max;
}

const SUFFIX = '._S3rver_object';

/** Every object of `bucket` as s3rver keeps it on disk: key and bytes, keys sorted. */
export function bucketObjects(server: S3rverProcess, bucket: string): { key: string; bytes: Buffer }[] {
  const root = join(server.directory, bucket);
  let entries;
  try {
    entries = readdirSync(root, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(SUFFIX))
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return { key: relative(root, path).slice(0, -SUFFIX.length), bytes: readFileSync(path) };
    })
    .sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** A self-signed certificate for 127.0.0.1 (openssl), for a TLS server nobody trusts. */
export function selfSignedCert(dir: string): { key: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1'],
    { stdio: 'ignore' },
  );
  return { key, cert };
}
