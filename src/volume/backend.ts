/**
 * A volume's view of its stores: stripes placed over them and read back from
 * any k shards, and the small per-volume records (heads, leases) kept on
 * every store. All the waiting on several stores at once lives here.
 */
import type { ShardStore } from '../store/index.js';
import { place, type StoreInfo } from '../placement/index.js';
import {
  type SealedStripe,
  type StripeKeys,
  StripeUnrecoverableError,
  decodeDescriptor,
  encodeDescriptor,
  openStripe,
} from '../stripe/index.js';
import { CairnError } from '../errors/index.js';
import type { BlockRef } from './meta.js';

/** How long a read waits for its first k shards before asking one more store. */
const HEDGE_MS = 250;

export class BackendError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('volume.backend', message, options);
  }
}

export class Backend {
  readonly stores: readonly ShardStore[];
  readonly #byId: Map<string, ShardStore>;
  readonly #infos: StoreInfo[];

  constructor(stores: readonly ShardStore[]) {
    this.stores = stores;
    this.#byId = new Map(stores.map((s) => [s.id, s]));
    // Each local store is its own failure domain; peers and buckets bring real zones later.
    this.#infos = stores.map((s) => ({ id: s.id, zone: s.id, capacity: null, used: 0, up: true }));
  }

  /** Puts every shard on its placed store; at least k+1 must land (k when m = 0), else the stripe is refused. */
  async putStripe(sealed: SealedStripe): Promise<BlockRef> {
    const { descriptor, shards } = sealed;
    const placement = place(descriptor.shardIds[0], this.#infos, descriptor, { shardSize: shards[0].length });
    const stores = placement.stores.map((id) => id ?? '');
    const results = await Promise.allSettled(
      shards.map((shard, i) => this.#byId.get(stores[i])!.put(descriptor.shardIds[i], shard)),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (results.length - failed.length < descriptor.k + Math.min(1, descriptor.m)) {
      throw new BackendError(
        `could not store a stripe: ${failed.length} of ${shards.length} shard puts failed (${failed[0]?.reason?.message})`,
        { cause: failed[0]?.reason },
      );
    }
    results.forEach((r, i) => {
      if (r.status === 'rejected') stores[i] = '';
    });
    return { descriptor: encodeDescriptor(descriptor), stores };
  }

  /**
   * The block of `ref`: asks the stores of the first k placed shards (data
   * shards first, so no decoding is needed), one more for each failure, and
   * one more if the first answers take longer than HEDGE_MS.
   */
  async getStripe(ref: BlockRef, keys: StripeKeys): Promise<Uint8Array> {
    const d = decodeDescriptor(ref.descriptor);
    const n = d.k + d.m;
    const shards: (Uint8Array | null)[] = new Array(n).fill(null);
    const candidates = ref.stores.flatMap((id, i) => (id && this.#byId.has(id) ? [i] : []));
    let next = 0;
    let good = 0;
    let bad: unknown;
    await new Promise<void>((resolve) => {
      let running = 0;
      const launch = () => {
        if (next >= candidates.length) {
          if (running === 0) resolve();
          return;
        }
        const i = candidates[next++];
        running++;
        this.#byId
          .get(ref.stores[i])!
          .get(d.shardIds[i])
          .then(
            (bytes) => {
              shards[i] = bytes;
              good++;
            },
            (err: unknown) => {
              bad = err;
              launch();
            },
          )
          .finally(() => {
            running--;
            if (good >= d.k || (running === 0 && next >= candidates.length)) resolve();
          });
      };
      for (let i = 0; i < d.k; i++) launch();
      const hedge = setTimeout(() => {
        if (good < d.k) launch();
      }, HEDGE_MS);
      hedge.unref();
    });
    if (good < d.k) {
      throw new BackendError(`stripe unreadable: ${good} of ${n} shards could be fetched, ${d.k} needed`, {
        cause: bad ?? new StripeUnrecoverableError(good, d.k, n, []),
      });
    }
    // ShardStore.get has checked every shard against its id already.
    return (await openStripe(d, shards, keys, { hashed: true })).block;
  }

  /** Best effort: a shard left behind is garbage, never a correctness problem. */
  async deleteStripe(ref: BlockRef): Promise<void> {
    const d = decodeDescriptor(ref.descriptor);
    await Promise.allSettled(ref.stores.map((id, i) => (id ? this.#byId.get(id)?.delete(d.shardIds[i]) : undefined)));
  }

  /** Runs `op` on every store; resolves with the settled results in store order. */
  each<T>(op: (store: ShardStore) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
    return Promise.allSettled(this.stores.map(op));
  }

  /** More than half of the stores: what a head or lease write needs to count. */
  get quorum(): number {
    return Math.floor(this.stores.length / 2) + 1;
  }
}
