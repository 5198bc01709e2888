import type { ShardId } from '../crypto/index.js';
import type { FileRange, PackTarget, WrittenPack } from './packs.js';

export interface StoreOptions {
  /** Aborting rejects the operation with OperationAbortedError (see docs/STORES.md for what a cancelled put may leave). */
  signal?: AbortSignal;
  /**
   * Default true: put hashes (and copies) the bytes it is given, get hashes
   * what it read. False hands that check to the caller, who must then check
   * what get returns against the id itself, and for put must have computed
   * the id from these very bytes and never change them afterwards (the
   * stripe engine's shards, hashed on a worker thread). The hash is the
   * costliest part of a local put or get; doing it twice on the thread that
   * also serves FUSE is what this spares. A store across a trust boundary
   * (a peer) still checks on its own side.
   */
  verify?: boolean;
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
 * The newest signed head of a volume as one store holds it. The store reads
 * only the numbers: `body` is the volume layer's signed bytes, kept verbatim.
 */
export interface HeadRecord {
  /** 32 lowercase hex characters. */
  volumeId: string;
  /** The writer's lease epoch; a store refuses heads from an epoch older than any it has seen. */
  epoch: number;
  /** Grows with every head within an epoch. */
  seq: number;
  /** Opaque signed bytes, at most MAX_HEAD_BODY_BYTES. */
  body: Uint8Array;
}

/** Who holds the volume's single read-write mount (promise 4), as one store holds it. */
export interface LeaseRecord {
  /** 32 lowercase hex characters. */
  volumeId: string;
  /** Raised by every takeover; heads from older epochs are refused from then on (fencing). */
  epoch: number;
  /** Opaque id of the mount holding the lease, 1 to MAX_LEASE_HOLDER_CHARS characters. */
  holder: string;
  /** The holder's own clock; stores never read clocks, so expiry is the clients' judgement. 0 after a clean release. */
  expiresAtMs: number;
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
  /**
   * Compare-and-set, atomic per volume: accepted when its epoch is at least
   * the highest the store has seen for the volume (lease or head) and it moves
   * the head forward; re-putting the current head is a no-op. Otherwise
   * StaleHeadError. The caller may reuse `head.body` once this returns.
   */
  putHead(head: HeadRecord, options?: StoreOptions): Promise<void>;
  /** The volume's current head (a fresh copy), or undefined when it has none. */
  getHead(volumeId: string, options?: StoreOptions): Promise<HeadRecord | undefined>;
  /**
   * Compare-and-set, atomic per volume: accepted when there is no lease, the
   * epoch is higher (a takeover), or epoch and holder match (renew or release).
   * Otherwise LeaseConflictError carrying the current lease.
   */
  putLease(lease: LeaseRecord, options?: StoreOptions): Promise<void>;
  getLease(volumeId: string, options?: StoreOptions): Promise<LeaseRecord | undefined>;
  /**
   * Forgets the volume's head and lease, for `cairn volume rm` once its
   * shards are gone; idempotent. What a store then knows of the volume is
   * nothing, fencing included: only for volumes nobody will mount again.
   */
  deleteRecords(volumeId: string, options?: StoreOptions): Promise<void>;
  /** Waits for operations already started, then releases the backend; idempotent. */
  close(): Promise<void>;
  /**
   * Optional, for stores that keep shards in plain files on this machine:
   * where shard `id` is, a whole file or a part of one (a pack). A reader may
   * read it directly, off the thread that serves FUSE (the stripe engine does,
   * on its workers), and must check it against the id as get would; when it
   * is not there, get finds it if the store has it.
   */
  shardFile?(id: ShardId): string | FileRange;
  /**
   * Optional, with shardFile: where a writer on another thread may write
   * many shards as one pack (writePack, store/packs.ts) instead of handing
   * each to put on this one. Undefined when the store must see the bytes (it
   * enforces a capacity) or is closed. Whoever writes a pack reports it with
   * packWritten.
   */
  packTarget?(): PackTarget | undefined;
  /** Takes in a pack written through packTarget: its shards are stored from then on. */
  packWritten?(pack: WrittenPack): void;
}
