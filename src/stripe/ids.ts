/**
 * Shard ids for a stripe, computed on two cores when possible: shards that
 * live in a SharedArrayBuffer can be hashed by the hash helper thread while
 * this thread goes on (encrypting, coding, hashing others).
 */
import { type ShardId, hashHelperEnabled, hashOnHelper, shardId } from '../crypto/index.js';

export class ShardIds {
  readonly #ids: (ShardId | undefined)[];
  readonly #jobs: Promise<void>[] = [];

  constructor(n: number) {
    this.#ids = new Array(n).fill(undefined);
  }

  /** Hash these shards on the helper thread if they are shared memory, else here and now. */
  offload(indices: readonly number[], shards: readonly Uint8Array[]): void {
    if (indices.length === 0) return;
    const first = shards[indices[0]];
    if (!(first.buffer instanceof SharedArrayBuffer) || !hashHelperEnabled()) {
      this.here(indices, shards);
      return;
    }
    const ranges = indices.map((i) => [shards[i].byteOffset, shards[i].length] as const);
    this.#jobs.push(
      hashOnHelper(first.buffer, ranges).then((ids) => {
        indices.forEach((i, x) => {
          this.#ids[i] = ids[x];
        });
      }),
    );
  }

  here(indices: readonly number[], shards: readonly Uint8Array[]): void {
    for (const i of indices) this.#ids[i] = shardId(shards[i]);
  }

  async all(): Promise<ShardId[]> {
    await Promise.all(this.#jobs);
    return this.#ids as ShardId[];
  }
}

/** Shared-memory scratch buffers, kept for reuse: fresh multi-MiB allocations cost page faults every time. */
const spare: SharedArrayBuffer[] = [];
const MAX_SPARE = 4;

export function borrowShared(bytes: number): Uint8Array {
  let best = -1;
  spare.forEach((b, i) => {
    if (b.byteLength >= bytes && (best < 0 || b.byteLength < spare[best].byteLength)) best = i;
  });
  const buffer = best >= 0 ? spare.splice(best, 1)[0] : new SharedArrayBuffer(bytes);
  return new Uint8Array(buffer, 0, bytes);
}

export function giveBackShared(view: Uint8Array): void {
  if (spare.length < MAX_SPARE && view.buffer instanceof SharedArrayBuffer) spare.push(view.buffer);
}
