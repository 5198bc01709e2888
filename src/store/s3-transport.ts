import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { BucketUnavailableError, classify, type Target } from './s3-errors.js';
import { s3Sdk } from './s3-sdk.js';

/** Where a bucket is and how to address it; never the credentials. */
export interface S3Location extends Target {
  /** e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000 */
  endpoint: string;
  region: string;
  bucket: string;
  /** '' or a key prefix ending in '/'; every object Cairn writes is under it. */
  prefix: string;
  /** Address the bucket as endpoint/bucket/key rather than bucket.endpoint/key. */
  pathStyle: boolean;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface TransportOptions {
  /** Requests in flight at once (default 32). */
  concurrency?: number;
  /** Tries per request, the first one included (default 5). */
  attempts?: number;
  /** The first backoff; each retry doubles it up to maxBackoffMs, with full jitter (default 100 ms, 2 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** Longest silence on an open request (default 30 s). */
  requestTimeoutMs?: number;
  /** A bucket that failed is reported down this long, then tried again (default 10 s). */
  recheckMs?: number;
}

/** The server's clock as seen in its last answer, for the clock-skew check. */
export interface ServerClock {
  serverMs: number;
  localMs: number;
}

/** Waits while `limit` tasks run; a task that fails frees its slot like one that succeeds. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#free = limit;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

// The SDK warns once per process that its 2027 releases need Node 22; the lock
// file pins a release that runs on Node 20 (DESIGN.md), so the warning only
// clutters every command's stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * One bucket's S3 client with what every request needs around it: bounded
 * concurrency, retries with backoff on failures that can pass (5xx,
 * throttling, dropped connections, timeouts), errors turned into
 * BucketUnavailableError, and whether the bucket is up.
 */
export class S3Transport {
  readonly client: S3Client;
  readonly location: S3Location;
  readonly #storeId: string;
  readonly #slots: Slots;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #recheckMs: number;
  readonly #agents: { destroy(): void }[];
  /** The first failure of the current outage, and the latest one. */
  #downSince: number | undefined;
  #lastFailure: number | undefined;
  #clock: ServerClock | undefined;

  constructor(storeId: string, location: S3Location, credentials: S3Credentials, options: TransportOptions = {}) {
    this.#storeId = storeId;
    this.location = location;
    const concurrency = options.concurrency ?? 32;
    this.#slots = new Slots(concurrency);
    this.#attempts = options.attempts ?? 5;
    this.#backoffMs = options.backoffMs ?? 100;
    this.#maxBackoffMs = options.maxBackoffMs ?? 2000;
    this.#recheckMs = options.recheckMs ?? 10_000;
    const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
    const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: concurrency });
    this.#agents = [httpAgent, httpsAgent];
    this.client = new (s3Sdk().S3Client)({
      endpoint: location.endpoint,
      region: location.region,
      forcePathStyle: location.pathStyle,
      credentials: { ...credentials },
      // Retries are ours (below), so they are bounded the same way for every request and visible in errors.
      maxAttempts: 1,
      // Shards are checked against their SHA-256 on every read; the SDK's extra
      // checksums would only switch some servers to aws-chunked bodies they do not decode.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        httpAgent,
        httpsAgent,
        connectionTimeout: options.connectTimeoutMs ?? 5000,
        requestTimeout: options.requestTimeoutMs ?? 30_000,
      },
    });
    this.client.middlewareStack.add(
      (next) => async (args) => {
        const sent = Date.now();
        const out = await next(args);
        const date = (out.response as { headers?: Record<string, string> }).headers?.date;
        if (date !== undefined && !Number.isNaN(Date.parse(date))) {
          this.#clock = { serverMs: Date.parse(date), localMs: (sent + Date.now()) / 2 };
        }
        return out;
      },
      { step: 'deserialize', name: 'cairnServerClock' },
    );
  }

  /** False from a failed request until `recheckMs` has passed or a request succeeds. */
  get up(): boolean {
    return this.#lastFailure === undefined || Date.now() - this.#lastFailure >= this.#recheckMs;
  }

  /** How long requests have been failing, with no success between (0 when the last one succeeded). */
  get downForMs(): number {
    return this.#downSince === undefined ? 0 : Date.now() - this.#downSince;
  }

  get clock(): ServerClock | undefined {
    return this.#clock;
  }

  /**
   * Runs `call` (one SDK request) with a slot, retrying what can pass. `what`
   * names the operation in errors. Only an `abortable` request gets the
   * caller's signal: a put is left to finish, since some servers (s3rver)
   * keep half an object when its upload is cut off; the caller is answered
   * at once either way (StoreBase).
   */
  async request<T>(
    what: string,
    call: (abortSignal?: AbortSignal) => Promise<T>,
    options: { signal?: AbortSignal; abortable?: boolean } = {},
  ): Promise<T> {
    const { signal } = options;
    // A bucket known to be down gets one try, so each caller learns it quickly.
    const attempts = this.up ? this.#attempts : 1;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      try {
        const result = await this.#slots.run(async () => {
          // The last moment to drop a request whose caller gave up while it waited (or just after asking).
          await undefined;
          signal?.throwIfAborted();
          return call(options.abortable ? signal : undefined);
        });
        this.#downSince = undefined;
        this.#lastFailure = undefined;
        return result;
      } catch (error) {
        if (signal?.aborted) throw error;
        const { problem, retryable, reason } = classify(error, this.location);
        if (!retryable || attempt >= attempts) {
          this.#lastFailure = Date.now();
          this.#downSince ??= this.#lastFailure;
          const tries = attempt > 1 ? ` (${attempt} attempts)` : '';
          throw new BucketUnavailableError(this.#storeId, problem, `${what} failed: ${reason}${tries}`, { cause: error });
        }
        const ceiling = Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** (attempt - 1));
        await sleep(Math.random() * ceiling, undefined, { signal });
      }
    }
  }

  destroy(): void {
    this.client.destroy();
    for (const agent of this.#agents) agent.destroy();
  }
}
