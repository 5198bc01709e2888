import { UsageError } from '../errors/index.js';
import { StoreFullError } from './errors.js';
import type { StoreStat } from './types.js';

export interface Counts {
  used: number;
  shards: number;
}

/**
 * A store's byte and shard counts and the capacity rule, so every backend
 * that enforces a capacity applies it the same way. Backends compute the next
 * counts, make the change durable, and only then `set` them.
 */
export class Usage {
  readonly capacity: number | null;
  readonly #storeId: string;
  #counts: Counts;

  constructor(storeId: string, capacity: number | undefined, counts: Counts = { used: 0, shards: 0 }) {
    this.#storeId = storeId;
    if (capacity !== undefined && (!Number.isSafeInteger(capacity) || capacity < 0)) {
      throw new UsageError(`capacity of store ${storeId} must be a whole number of bytes, not ${capacity}`);
    }
    this.capacity = capacity ?? null;
    this.#counts = { used: counts.used, shards: counts.shards };
  }

  /**
   * Counts after storing `length` bytes where `previous` bytes were stored
   * (undefined for a new shard). Only a new shard can be refused for space:
   * a re-put replaces bytes of the same id, so it never needs room.
   */
  afterPut(previous: number | undefined, length: number): Counts {
    const { used, shards } = this.#counts;
    if (previous !== undefined) return { used: used - previous + length, shards };
    if (this.capacity !== null && used + length > this.capacity) {
      throw new StoreFullError(this.#storeId, this.capacity, used, length);
    }
    return { used: used + length, shards: shards + 1 };
  }

  afterDelete(previous: number): Counts {
    return { used: this.#counts.used - previous, shards: this.#counts.shards - 1 };
  }

  set({ used, shards }: Counts): void {
    this.#counts = { used, shards };
  }

  stat(): StoreStat {
    return { capacity: this.capacity, ...this.#counts };
  }
}
