import { StoreUnavailableError } from './errors.js';

/**
 * What went wrong talking to a bucket, in the terms a user acts on. Each
 * kind has its own message (bucket add/test print it as is) and says
 * whether trying again could help.
 */
export type BucketProblem =
  | 'unreachable'
  | 'tls'
  | 'timeout'
  | 'credentials'
  | 'signature'
  | 'no-such-bucket'
  | 'access-denied'
  | 'clock-skew'
  | 'throttled'
  | 'server'
  | 'refused';

/**
 * A bucket that cannot serve a request; `problem` says why, the message says
 * what to do, and `detail` is the message without the store's name.
 */
export class BucketUnavailableError extends StoreUnavailableError {
  constructor(
    storeId: string,
    readonly problem: BucketProblem,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(storeId, detail, options);
  }
}

/** Where a request went, for messages: never the credentials. */
export interface Target {
  endpoint: string;
  bucket: string;
  prefix: string;
}

export interface Classified {
  problem: BucketProblem;
  /** Another attempt could succeed (a busy or flaky server, a dropped connection). */
  retryable: boolean;
  reason: string;
}

const TLS_CODES = new Set([
  'EPROTO',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const THROTTLED = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'RequestLimitExceeded']);

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The HTTP status of an SDK error, when the server answered at all. */
export function statusOf(error: unknown): number | undefined {
  return (error as SdkError | undefined)?.$metadata?.httpStatusCode;
}

/** The S3 error code (NoSuchKey, AccessDenied, …) or the Node error code (ECONNREFUSED, …). */
export function codeOf(error: unknown): string {
  const e = (error ?? {}) as SdkError;
  return e.Code ?? (statusOf(error) !== undefined ? e.name : undefined) ?? e.code ?? e.name ?? 'unknown';
}

/**
 * Sorts an error from the SDK or the network into a BucketProblem with a
 * message that names the endpoint and bucket and says what to check. The
 * server's own text is left out: some servers echo request details in it.
 */
export function classify(error: unknown, target: Target): Classified {
  const where = `bucket "${target.bucket}" at ${target.endpoint}`;
  const status = statusOf(error);
  const code = codeOf(error);
  const nodeCode = (error as SdkError | undefined)?.code ?? '';
  const https = target.endpoint.startsWith('https:');
  if (status === undefined) {
    if (TLS_CODES.has(nodeCode) || nodeCode.startsWith('ERR_SSL_') || nodeCode.startsWith('ERR_TLS_')) {
      const hint =
        nodeCode === 'EPROTO' || nodeCode.startsWith('ERR_SSL_')
          ? 'the server does not speak TLS there: if it is plain HTTP, use an http:// endpoint'
          : 'its certificate is not trusted (self-signed, expired or for another name): fix the certificate or set NODE_EXTRA_CA_CERTS to its CA';
      return fail('tls', false, `TLS with ${target.endpoint} failed (${nodeCode}): ${hint}`);
    }
    if (nodeCode === 'ENOTFOUND' || nodeCode === 'EAI_AGAIN') {
      return fail('unreachable', nodeCode === 'EAI_AGAIN', `the host of ${target.endpoint} is not known (${nodeCode}); check --endpoint`);
    }
    if (nodeCode === 'ECONNREFUSED' || nodeCode === 'EHOSTUNREACH' || nodeCode === 'ENETUNREACH') {
      return fail('unreachable', true, `cannot connect to ${target.endpoint} (${nodeCode}); check --endpoint and that the server is running`);
    }
    if (nodeCode === 'ECONNRESET' || nodeCode === 'EPIPE') {
      const hint = https ? '' : ' (if the server speaks https, use an https:// endpoint)';
      return fail('unreachable', true, `${target.endpoint} closed the connection (${nodeCode})${hint}`);
    }
    if (nodeCode === 'ETIMEDOUT' || code === 'TimeoutError' || code === 'RequestTimeout') {
      return fail('timeout', true, `${target.endpoint} did not answer in time`);
    }
    return fail('unreachable', true, `no answer from ${target.endpoint} (${code})`);
  }
  if (code === 'NoSuchBucket') {
    return fail('no-such-bucket', false, `${where} does not exist: create it, or fix --bucket (and --region)`);
  }
  if (code === 'InvalidAccessKeyId') {
    return fail('credentials', false, `${target.endpoint} does not know the access key: check the credentials given to \`cairn bucket add\``);
  }
  if (code === 'SignatureDoesNotMatch') {
    return fail('signature', false, `${target.endpoint} refused the request signature: the secret key does not match the access key`);
  }
  if (code === 'RequestTimeTooSkewed') {
    return fail('clock-skew', false, `${target.endpoint} says this machine's clock is too far off (more than 15 minutes): set the clock (NTP)`);
  }
  if (code === 'AccessDenied' || code === 'AllAccessDisabled' || status === 403) {
    return fail(
      'access-denied',
      false,
      `access denied to ${where} under prefix "${target.prefix}": the credentials need to list, put, get and delete objects there`,
    );
  }
  if (THROTTLED.has(code) || status === 429 || status === 503) {
    return fail('throttled', true, `${where} is busy (HTTP ${status} ${code}); try again later`);
  }
  if (status >= 500 || status === 408 || code === 'RequestTimeout') {
    return fail('server', true, `${where} failed the request (HTTP ${status} ${code})`);
  }
  return fail('refused', false, `${where} refused the request (HTTP ${status} ${code})`);
}

function fail(problem: BucketProblem, retryable: boolean, reason: string): Classified {
  return { problem, retryable, reason };
}
