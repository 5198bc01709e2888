import type { ShardId } from '../crypto/index.js';

export interface StoreOptions {
  /** Aborting rejects the operation with OperationAbortedError (see docs/STORES.md for what a cancelled put may leave). */
  signal?: AbortSignal;
}

export interface ListOptions extends StoreOptions {
  /** Start after this id (the `next` of the previous page); it need not be stored. */
  after?: ShardId;
  /** Most ids in one page, a positive integer; default 1000. */
  limit?: number;
}

export interface ListPage {
  /** Ascending. A page is short only when it is the last one. */
  ids: ShardId[];
  /** Present exactly when more ids remain: pass it as `after` for the next page. */
  next?: ShardId;
}

export interface StoreStat {
  /** Bytes of shards this store accepts in all; null when unlimited. */
  capacity: number | null;
  /** Bytes of shards held (shard bytes only, not the backend's overhead). */
  used: number;
  shards: number;
}

/**
 * Where shards live: memory, a local directory, a peer, a bucket. Every
 * backend passes the same conformance suite (test/store/conformance.ts); the
 * contract is written out in docs/STORES.md.
 */
export interface ShardStore {
  /** Stable across restarts; placement and logs use it. */
  readonly id: string;
  /** Idempotent. Checks shardId(bytes) === id first; the caller may reuse `bytes` as soon as this returns. */
  put(id: ShardId, bytes: Uint8Array, options?: StoreOptions): Promise<void>;
  /** The shard's bytes, checked against its id; a fresh buffer each call. */
  get(id: ShardId, options?: StoreOptions): Promise<Uint8Array>;
  /** Presence only: cheap, does not check the bytes. */
  has(id: ShardId, options?: StoreOptions): Promise<boolean>;
  /** Idempotent: deleting an absent shard succeeds. */
  delete(id: ShardId, options?: StoreOptions): Promise<void>;
  list(options?: ListOptions): Promise<ListPage>;
  stat(options?: StoreOptions): Promise<StoreStat>;
  /** Waits for operations already started, then releases the backend; idempotent. */
  close(): Promise<void>;
}
