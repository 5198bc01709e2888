/**
 * What `cairn bucket add` and `cairn bucket test` check before a bucket is
 * trusted with volumes, in order, stopping at the first failure with its own
 * message: the endpoint answers (TLS included), the credentials are
 * accepted, the bucket exists, the clocks agree, and an object can be put,
 * read back, listed and deleted under the prefix. The probe object is
 * removed whatever happens (or, if that fails, named in the error).
 */
import { randomBytes } from 'node:crypto';
import { CairnError } from '../errors/index.js';
import {
  type BucketProblem,
  BucketObjects,
  BucketUnavailableError,
  S3Transport,
  conditionalWritesWork,
} from '../store/index.js';
import type { BucketConfig } from './config.js';

/** Clocks further apart than this fail the check: S3 refuses requests 15 minutes off, and leases are judged by clocks. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export type CheckProblem = BucketProblem | 'probe';

/** A check that failed; `problem` says which kind, the message what to do. */
export class BucketCheckError extends CairnError {
  constructor(
    name: string,
    readonly problem: CheckProblem,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`bucket.${problem}`, `bucket "${name}": ${detail}`, options);
  }
}

export interface CheckReport {
  /** Server clock minus ours, in ms (the server's Date header has whole seconds). */
  clockSkewMs: number;
  /** Whether the server honours If-Match/If-None-Match on PUT: heads and leases then use compare-and-set. */
  conditionalWrites: boolean;
  /** What passed, in order, in words. */
  passed: string[];
}

export async function checkBucket(config: BucketConfig, onPass?: (what: string) => void): Promise<CheckReport> {
  const transport = new S3Transport(`bucket:${config.name}`, config.location, config.credentials);
  const objects = new BucketObjects(transport);
  const passed: string[] = [];
  const pass = (what: string) => {
    passed.push(what);
    onPass?.(what);
  };
  const failed = (error: unknown): never => {
    if (error instanceof BucketUnavailableError) throw new BucketCheckError(config.name, error.problem, error.detail, { cause: error });
    throw error;
  };
  try {
    await objects.list('', { max: 1 }).catch(failed);
    pass('endpoint reachable, credentials accepted, bucket exists, listing allowed');

    const clock = transport.clock;
    const clockSkewMs = clock ? Math.round(clock.serverMs - clock.localMs) : 0;
    if (Math.abs(clockSkewMs) > MAX_CLOCK_SKEW_MS) {
      const minutes = (Math.abs(clockSkewMs) / 60_000).toFixed(1);
      throw new BucketCheckError(
        config.name,
        'clock-skew',
        `this machine's clock is ${minutes} minutes ${clockSkewMs > 0 ? 'behind' : 'ahead of'} ${config.location.endpoint}'s ` +
          `(more than ${MAX_CLOCK_SKEW_MS / 60_000} allowed: S3 refuses requests 15 minutes off, and leases are judged by clocks); set the clock (NTP)`,
      );
    }
    pass(`clocks agree (${Math.round(Math.abs(clockSkewMs) / 1000)} s apart, to the second)`);

    await probe(config, objects).catch(failed);
    pass(`put, get, list and delete allowed under prefix "${config.location.prefix}"`);

    const conditionalWrites = await conditionalWritesWork(objects).catch(failed);
    pass(conditionalWrites ? 'conditional writes honoured (heads and leases by compare-and-set)' : 'no conditional writes (heads and leases as epoch objects)');
    return { clockSkewMs, conditionalWrites, passed };
  } finally {
    transport.destroy();
  }
}

async function probe(config: BucketConfig, objects: BucketObjects): Promise<void> {
  const key = `probe-${randomBytes(8).toString('hex')}`;
  const bytes = new Uint8Array(randomBytes(1024));
  const wrong = (detail: string) => new BucketCheckError(config.name, 'probe', detail);
  let stored = false;
  try {
    stored = await objects.put(key, bytes, 'a probe object');
    const got = await objects.get(key, 'a probe object');
    if (got === undefined) throw wrong('an object just stored cannot be read back (the server does not read its own writes)');
    if (Buffer.compare(got.bytes, bytes) !== 0) throw wrong('an object read back differs from what was stored');
    const { entries } = await objects.list(key, { max: 10 });
    if (!entries.some((e) => e.key === key)) throw wrong('an object just stored is missing from the listing');
    await objects.delete(key, 'a probe object');
    stored = false;
    if ((await objects.head(key, 'a probe object')) !== undefined) throw wrong('an object just deleted is still there');
  } catch (error) {
    if (!stored) throw error;
    const removed = await objects.delete(key, 'a probe object').then(
      () => true,
      () => false,
    );
    if (removed) throw error;
    // Named, so nothing is left behind unknown.
    const known = error instanceof BucketUnavailableError || error instanceof BucketCheckError;
    const detail = known ? error.detail : (error as Error).message;
    throw new BucketCheckError(
      config.name,
      known ? error.problem : 'probe',
      `${detail}; the probe object ${config.location.prefix}${key} may be left in the bucket: delete it by hand`,
      { cause: error },
    );
  }
}
