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
