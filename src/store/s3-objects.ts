import { createHash } from 'node:crypto';
import { codeOf, statusOf } from './s3-errors.js';
import { s3Sdk } from './s3-sdk.js';
import type { S3Transport } from './s3-transport.js';

export interface ListEntry {
  /** Relative to the prefix. */
  key: string;
  size: number;
}

export interface PutConditions {
  /** Write only if the object's ETag is this one. */
  ifMatch?: string;
  /** '*': write only if there is no such object. */
  ifNoneMatch?: '*';
}

const absent = (error: unknown) => statusOf(error) === 404 && codeOf(error) !== 'NoSuchBucket';

/**
 * The few object operations the S3 store is made of, on keys relative to
 * the bucket's prefix. Absent objects are `undefined`, not errors; a
 * conditional put that lost its condition returns false.
 */
export class BucketObjects {
  readonly #transport: S3Transport;

  constructor(transport: S3Transport) {
    this.#transport = transport;
  }

  #key(relative: string): string {
    return this.#transport.location.prefix + relative;
  }

  get #bucket(): string {
    return this.#transport.location.bucket;
  }

  async get(relative: string, what: string, signal?: AbortSignal): Promise<{ bytes: Uint8Array; etag?: string } | undefined> {
    const { client } = this.#transport;
    return this.#transport.request(
      `get of ${what}`,
      async (abortSignal) => {
        try {
          const out = await client.send(new (s3Sdk().GetObjectCommand)({ Bucket: this.#bucket, Key: this.#key(relative) }), { abortSignal });
          return { bytes: await out.Body!.transformToByteArray(), etag: out.ETag };
        } catch (error) {
          if (absent(error)) return undefined;
          throw error;
        }
      },
      { signal, abortable: true },
    );
  }

  async head(relative: string, what: string, signal?: AbortSignal): Promise<{ size: number } | undefined> {
    return this.#transport.request(`check of ${what}`, (abortSignal) => this.#head(relative, abortSignal), { signal, abortable: true });
  }

  async #head(relative: string, abortSignal?: AbortSignal): Promise<{ size: number } | undefined> {
    try {
      const out = await this.#transport.client.send(new (s3Sdk().HeadObjectCommand)({ Bucket: this.#bucket, Key: this.#key(relative) }), {
        abortSignal,
      });
      return { size: out.ContentLength ?? 0 };
    } catch (error) {
      if (absent(error)) return undefined;
      throw error;
    }
  }

  /** True when written; false when a condition did not hold (412, or 409 for a concurrent conditional write). */
  async put(relative: string, bytes: Uint8Array, what: string, options: PutConditions & { signal?: AbortSignal } = {}): Promise<boolean> {
    const md5 = createHash('md5').update(bytes).digest('base64');
    const { client } = this.#transport;
    return this.#transport.request(
      `put of ${what}`,
      async () => {
        try {
          await client.send(
            new (s3Sdk().PutObjectCommand)({
              Bucket: this.#bucket,
              Key: this.#key(relative),
              Body: bytes,
              ContentLength: bytes.length,
              // The server checks it (BadDigest), so bytes damaged on the way are never stored.
              ContentMD5: md5,
              IfMatch: options.ifMatch,
              IfNoneMatch: options.ifNoneMatch,
            }),
          );
          return true;
        } catch (error) {
          const status = statusOf(error);
          if (status === 412 || (status === 409 && codeOf(error) === 'ConditionalRequestConflict')) return false;
          throw error;
        }
      },
      { signal: options.signal },
    );
  }

  /** Idempotent: deleting an absent object succeeds. */
  async delete(relative: string, what: string, signal?: AbortSignal): Promise<void> {
    await this.#transport.request(
      `delete of ${what}`,
      async () => {
        try {
          await this.#transport.client.send(new (s3Sdk().DeleteObjectCommand)({ Bucket: this.#bucket, Key: this.#key(relative) }));
        } catch (error) {
          // A delete that failed on the server but left no object met its goal
          // (s3rver fails deletes that race to remove the same empty directory).
          if ((statusOf(error) ?? 0) >= 500 && (await this.#head(relative).catch(() => 'unknown')) === undefined) return;
          throw error;
        }
      },
      { signal },
    );
  }

  /**
   * Up to `max` (at most 1000) keys under `under`, in ascending order, after
   * `after` when given. ListObjects (v1) with a marker: it pages the same
   * way everywhere, where v2 continuation tokens fail on some servers
   * (s3rver's use DES, which OpenSSL 3 lacks).
   */
  async list(under: string, options: { after?: string; max: number; signal?: AbortSignal }): Promise<{ entries: ListEntry[]; truncated: boolean }> {
    const prefix = this.#key(under);
    const strip = this.#transport.location.prefix.length;
    return this.#transport.request(
      'list',
      async (abortSignal) => {
        const out = await this.#transport.client.send(
          new (s3Sdk().ListObjectsCommand)({
            Bucket: this.#bucket,
            Prefix: prefix,
            Marker: options.after === undefined ? undefined : this.#key(options.after),
            MaxKeys: options.max,
          }),
          { abortSignal },
        );
        const entries = (out.Contents ?? []).map((o) => ({ key: (o.Key ?? '').slice(strip), size: o.Size ?? 0 }));
        return { entries, truncated: out.IsTruncated === true };
      },
      { signal: options.signal, abortable: true },
    );
  }

  /** Every key under `under` (for small prefixes: a volume's records, the probe's). */
  async listAll(under: string, signal?: AbortSignal): Promise<ListEntry[]> {
    const all: ListEntry[] = [];
    let after: string | undefined;
    for (;;) {
      const { entries, truncated } = await this.list(under, { after, max: 1000, signal });
      all.push(...entries);
      if (!truncated || entries.length === 0) return all;
      after = entries[entries.length - 1].key;
    }
  }
}
