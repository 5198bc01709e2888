import { shardId, type ShardId } from '../crypto/index.js';
import { UsageError } from '../errors/index.js';
import { ShardCorruptError, ShardNotFoundError, shortId } from './errors.js';
import { OperationGate, checkShardId } from './gate.js';
import {
  checkVolumeId,
  copyHead,
  copyLease,
  headUpdate,
  leaseUpdate,
  ownHead,
  ownLease,
  type VolumeRecords,
} from './records.js';
import type {
  HeadRecord,
  LeaseRecord,
  ListOptions,
  ListPage,
  ShardStore,
  StoreOptions,
  StoreStat,
} from './types.js';

export const DEFAULT_LIST_LIMIT = 1000;

/**
 * The part of the ShardStore contract that does not depend on where bytes
 * live: id checks, hash verification both ways, the caller's copy, paging,
 * cancellation, the closed state, and the head and lease rules. Backends
 * implement the protected methods, which only ever see well-formed ids,
 * verified bytes and valid records, so every backend gets these rules the
 * same way.
 */
export abstract class StoreBase implements ShardStore {
  abstract readonly id: string;
  readonly #gate = new OperationGate(() => this.id);

  /** Closed (or closing): for what a store hands out beside its operations, such as shardFileTarget. */
  protected get closed(): boolean {
    return this.#gate.closed;
  }

  /** Store bytes that hash to id and belong to the store. Must count a re-put once. */
  protected abstract putShard(id: ShardId, bytes: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** The stored bytes as a buffer the caller may keep, or undefined when absent. */
  protected abstract getShard(id: ShardId, signal?: AbortSignal): Promise<Uint8Array | undefined>;
  protected abstract hasShard(id: ShardId, signal?: AbortSignal): Promise<boolean>;
  protected abstract deleteShard(id: ShardId, signal?: AbortSignal): Promise<void>;
  /** Up to `count` stored ids greater than `after`, ascending. */
  protected abstract listShards(after: ShardId | undefined, count: number, signal?: AbortSignal): Promise<ShardId[]>;
  protected abstract statStore(signal?: AbortSignal): Promise<StoreStat>;
  /** The volume's head and lease as stored (the caller gets copies). */
  protected abstract readVolume(volumeId: string, signal?: AbortSignal): Promise<VolumeRecords>;
  /**
   * Reads the volume's records, passes them to `decide` and stores what it
   * returns (nothing when undefined; it throws to refuse), atomically against
   * every other update of this volume's records: within the process, and
   * across processes for a backend several processes share. This is the only
   * compare-and-set a backend provides; the rules are in `decide`.
   */
  protected abstract updateVolume(
    volumeId: string,
    decide: (held: VolumeRecords) => VolumeRecords | undefined,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Removes the volume's head and lease, as one step against updateVolume; nothing to remove is no error. */
  protected abstract deleteVolume(volumeId: string, signal?: AbortSignal): Promise<void>;
  /** Called once, after every started operation has settled. */
  protected abstract closeStore(): Promise<void>;

  async put(id: ShardId, bytes: Uint8Array, options?: StoreOptions): Promise<void> {
    const verify = options?.verify !== false;
    // Copied before anything asynchronous: the caller may reuse its buffer as
    // soon as put returns, and the hash must be of the bytes we keep.
    const owned = verify ? new Uint8Array(bytes) : bytes;
    this.#checkId(id);
    return this.#run(`put of shard ${shortId(id)}`, options, async (signal) => {
      const actual = verify ? shardId(owned) : id;
      if (actual !== id) {
        throw new ShardCorruptError(
          this.id,
          id,
          `the ${owned.length} bytes given as shard ${shortId(id)} hash to ${shortId(actual)}; ` +
            `nothing was stored on store ${this.id}`,
        );
      }
      await this.putShard(id, owned, signal);
    });
  }

  async get(id: ShardId, options?: StoreOptions): Promise<Uint8Array> {
    this.#checkId(id);
    return this.#run(`get of shard ${shortId(id)}`, options, async (signal) => {
      const bytes = await this.getShard(id, signal);
      if (bytes === undefined) throw new ShardNotFoundError(this.id, id);
      if (options?.verify !== false && shardId(bytes) !== id) {
        throw new ShardCorruptError(
          this.id,
          id,
          `shard ${shortId(id)} on store ${this.id} no longer matches its id (damaged at rest); ` +
            `read another copy and repair this one`,
        );
      }
      return bytes;
    });
  }

  async has(id: ShardId, options?: StoreOptions): Promise<boolean> {
    this.#checkId(id);
    return this.#run(`has of shard ${shortId(id)}`, options, (signal) => this.hasShard(id, signal));
  }

  async delete(id: ShardId, options?: StoreOptions): Promise<void> {
    this.#checkId(id);
    return this.#run(`delete of shard ${shortId(id)}`, options, (signal) => this.deleteShard(id, signal));
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    const { after, limit = DEFAULT_LIST_LIMIT } = options;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new UsageError(`list limit must be a positive integer, not ${limit}`);
    }
    if (after !== undefined) this.#checkId(after);
    return this.#run('list', options, async (signal) => {
      // One extra id tells whether another page exists without a second call.
      const ids = await this.listShards(after, limit + 1, signal);
      return ids.length > limit ? { ids: ids.slice(0, limit), next: ids[limit - 1] } : { ids };
    });
  }

  stat(options?: StoreOptions): Promise<StoreStat> {
    return this.#run('stat', options, (signal) => this.statStore(signal));
  }

  async putHead(head: HeadRecord, options?: StoreOptions): Promise<void> {
    // Validated and copied before anything asynchronous, like a shard's bytes.
    const owned = ownHead(this.id, head);
    return this.#run(`put of the head of volume ${shortId(owned.volumeId)}`, options, (signal) =>
      this.updateVolume(owned.volumeId, (held) => headUpdate(this.id, held, owned), signal),
    );
  }

  async getHead(volumeId: string, options?: StoreOptions): Promise<HeadRecord | undefined> {
    checkVolumeId(this.id, volumeId);
    return this.#run(`get of the head of volume ${shortId(volumeId)}`, options, async (signal) => {
      const { head } = await this.readVolume(volumeId, signal);
      return head && copyHead(head);
    });
  }

  async putLease(lease: LeaseRecord, options?: StoreOptions): Promise<void> {
    const owned = ownLease(this.id, lease);
    return this.#run(`put of the lease of volume ${shortId(owned.volumeId)}`, options, (signal) =>
      this.updateVolume(owned.volumeId, (held) => leaseUpdate(this.id, held, owned), signal),
    );
  }

  async getLease(volumeId: string, options?: StoreOptions): Promise<LeaseRecord | undefined> {
    checkVolumeId(this.id, volumeId);
    return this.#run(`get of the lease of volume ${shortId(volumeId)}`, options, async (signal) => {
      const { lease } = await this.readVolume(volumeId, signal);
      return lease && copyLease(lease);
    });
  }

  async deleteRecords(volumeId: string, options?: StoreOptions): Promise<void> {
    checkVolumeId(this.id, volumeId);
    return this.#run(`delete of the records of volume ${shortId(volumeId)}`, options, (signal) => this.deleteVolume(volumeId, signal));
  }

  close(): Promise<void> {
    return this.#gate.close(() => this.closeStore());
  }

  #checkId(id: unknown): void {
    checkShardId(this.id, id);
  }

  #run<T>(operation: string, options: StoreOptions | undefined, work: (signal?: AbortSignal) => Promise<T>): Promise<T> {
    return this.#gate.run(operation, options, work);
  }
}
