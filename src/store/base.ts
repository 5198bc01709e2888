import { isShardId, shardId, type ShardId } from '../crypto/index.js';
import { UsageError } from '../errors/index.js';
import {
  InvalidShardIdError,
  OperationAbortedError,
  ShardCorruptError,
  ShardNotFoundError,
  shortId,
  StoreUnavailableError,
} from './errors.js';
import type { ListOptions, ListPage, ShardStore, StoreOptions, StoreStat } from './types.js';

export const DEFAULT_LIST_LIMIT = 1000;

/**
 * The part of the ShardStore contract that does not depend on where bytes
 * live: id checks, hash verification both ways, the caller's copy, paging,
 * cancellation and the closed state. Backends implement the protected
 * methods, which only ever see well-formed ids and verified bytes, so every
 * backend gets these rules the same way.
 */
export abstract class StoreBase implements ShardStore {
  abstract readonly id: string;
  #closing: Promise<void> | undefined;
  readonly #inflight = new Set<Promise<unknown>>();

  /** Store bytes that hash to id and belong to the store. Must count a re-put once. */
  protected abstract putShard(id: ShardId, bytes: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** The stored bytes as a buffer the caller may keep, or undefined when absent. */
  protected abstract getShard(id: ShardId, signal?: AbortSignal): Promise<Uint8Array | undefined>;
  protected abstract hasShard(id: ShardId, signal?: AbortSignal): Promise<boolean>;
  protected abstract deleteShard(id: ShardId, signal?: AbortSignal): Promise<void>;
  /** Up to `count` stored ids greater than `after`, ascending. */
  protected abstract listShards(after: ShardId | undefined, count: number, signal?: AbortSignal): Promise<ShardId[]>;
  protected abstract statStore(signal?: AbortSignal): Promise<StoreStat>;
  /** Called once, after every started operation has settled. */
  protected abstract closeStore(): Promise<void>;

  put(id: ShardId, bytes: Uint8Array, options?: StoreOptions): Promise<void> {
    // Copied before anything asynchronous: the caller may reuse its buffer as
    // soon as put returns, and the hash must be of the bytes we keep.
    const owned = new Uint8Array(bytes);
    return this.#run(`put of shard ${shortId(String(id))}`, [id], options, async (signal) => {
      const actual = shardId(owned);
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

  get(id: ShardId, options?: StoreOptions): Promise<Uint8Array> {
    return this.#run(`get of shard ${shortId(String(id))}`, [id], options, async (signal) => {
      const bytes = await this.getShard(id, signal);
      if (bytes === undefined) throw new ShardNotFoundError(this.id, id);
      if (shardId(bytes) !== id) {
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

  has(id: ShardId, options?: StoreOptions): Promise<boolean> {
    return this.#run(`has of shard ${shortId(String(id))}`, [id], options, (signal) => this.hasShard(id, signal));
  }

  delete(id: ShardId, options?: StoreOptions): Promise<void> {
    return this.#run(`delete of shard ${shortId(String(id))}`, [id], options, (signal) => this.deleteShard(id, signal));
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    const { after, limit = DEFAULT_LIST_LIMIT } = options;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new UsageError(`list limit must be a positive integer, not ${limit}`);
    }
    return this.#run('list', after === undefined ? [] : [after], options, async (signal) => {
      // One extra id tells whether another page exists without a second call.
      const ids = await this.listShards(after, limit + 1, signal);
      return ids.length > limit ? { ids: ids.slice(0, limit), next: ids[limit - 1] } : { ids };
    });
  }

  stat(options?: StoreOptions): Promise<StoreStat> {
    return this.#run('stat', [], options, (signal) => this.statStore(signal));
  }

  close(): Promise<void> {
    this.#closing ??= Promise.allSettled(this.#inflight).then(() => this.closeStore());
    return this.#closing;
  }

  async #run<T>(
    operation: string,
    ids: unknown[],
    options: StoreOptions | undefined,
    work: (signal?: AbortSignal) => Promise<T>,
  ): Promise<T> {
    for (const id of ids) {
      if (typeof id !== 'string' || !isShardId(id)) throw new InvalidShardIdError(this.id, id);
    }
    if (this.#closing) throw new StoreUnavailableError(this.id, 'it has been closed');
    const signal = options?.signal;
    if (signal?.aborted) throw new OperationAbortedError(this.id, operation, signal.reason);
    const task = work(signal);
    const forget = () => this.#inflight.delete(task);
    this.#inflight.add(task);
    task.then(forget, forget);
    return signal ? untilAborted(task, signal, () => new OperationAbortedError(this.id, operation, signal.reason)) : task;
  }
}

/**
 * Settles with `task`, or rejects as soon as `signal` aborts. The task itself
 * runs on (close() waits for it); backends look at the signal to stop early.
 */
function untilAborted<T>(task: Promise<T>, signal: AbortSignal, aborted: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    task.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
