import { randomBytes } from 'node:crypto';
import type { ShardId } from '../crypto/index.js';
import { StoreBase } from './base.js';
import type { VolumeRecords } from './records.js';
import type { StoreStat } from './types.js';
import { Usage } from './usage.js';

export interface MemoryStoreOptions {
  /** Default: a random `memory-…` id. */
  id?: string;
  /** Bytes of shards accepted in all; unlimited when absent. */
  capacity?: number;
}

/** Shards in a Map, for tests and simulations; gone when the process ends or the store closes. */
export class MemoryStore extends StoreBase {
  readonly id: string;
  readonly #usage: Usage;
  readonly #shards = new Map<ShardId, Uint8Array>();
  readonly #volumes = new Map<string, VolumeRecords>();

  constructor(options: MemoryStoreOptions = {}) {
    super();
    this.id = options.id ?? `memory-${randomBytes(6).toString('hex')}`;
    this.#usage = new Usage(this.id, options.capacity);
  }

  // No awaits inside: each operation is atomic on the event loop, so the
  // capacity check and the counters need no lock.
  protected async putShard(id: ShardId, bytes: Uint8Array): Promise<void> {
    this.#usage.set(this.#usage.afterPut(this.#shards.get(id)?.length, bytes.length));
    this.#shards.set(id, bytes);
  }

  protected async getShard(id: ShardId): Promise<Uint8Array | undefined> {
    return this.#shards.get(id)?.slice();
  }

  protected async hasShard(id: ShardId): Promise<boolean> {
    return this.#shards.has(id);
  }

  protected async deleteShard(id: ShardId): Promise<void> {
    const old = this.#shards.get(id);
    if (old === undefined) return;
    this.#usage.set(this.#usage.afterDelete(old.length));
    this.#shards.delete(id);
  }

  protected async listShards(after: ShardId | undefined, count: number): Promise<ShardId[]> {
    // Sorting per page is fine at test sizes; this store is not for millions of shards.
    const ids = [...this.#shards.keys()].filter((id) => after === undefined || id > after).sort();
    return ids.slice(0, count);
  }

  protected async statStore(): Promise<StoreStat> {
    return this.#usage.stat();
  }

  // StoreBase hands in records it owns and copies them on the way out, so they are kept as they are.
  protected async readVolume(volumeId: string): Promise<VolumeRecords> {
    return this.#volumes.get(volumeId) ?? {};
  }

  protected async updateVolume(
    volumeId: string,
    decide: (held: VolumeRecords) => VolumeRecords | undefined,
  ): Promise<void> {
    const held = this.#volumes.get(volumeId) ?? {};
    const change = decide(held);
    if (change !== undefined) this.#volumes.set(volumeId, { ...held, ...change });
  }

  protected async deleteVolume(volumeId: string): Promise<void> {
    this.#volumes.delete(volumeId);
  }

  protected async closeStore(): Promise<void> {
    this.#shards.clear();
    this.#volumes.clear();
  }
}
