/**
 * A volume's view of its stores: stripes placed over them and read back from
 * any k shards, and the small per-volume records (heads, leases) kept on
 * every store. All the waiting on several stores at once lives here.
 */
import { type PackTarget, ShardCorruptError, type ShardStore } from '../store/index.js';
import { place, type StoreInfo } from '../placement/index.js';
import {
  type HeldStripe,
  type OpenedStripe,
  type SealedStripe,
  type StripeDescriptor,
  type StripeKeys,
  StripeUnrecoverableError,
  decodeDescriptor,
  encodeDescriptor,
  type ShardSource,
  openSources,
} from '../stripe/index.js';
import { CairnError } from '../errors/index.js';
import type { BlockRef } from './meta.js';

/** Checks shards against their ids, then decodes and decrypts: the stripe engine, or openSources on this thread. */
export interface StripeOpener {
  open(descriptor: StripeDescriptor, shards: readonly ShardSource[], keys: StripeKeys): Promise<OpenedStripe>;
  /** It reads shards given as file paths off this thread, so stores that have files (ShardStore.shardFile) need no get. */
  readonly readsFiles?: boolean;
}

const HERE: StripeOpener = { open: openSources };

/** How long a quorum operation waits for the stragglers once a quorum has answered. */
const QUORUM_GRACE_MS = 300;
/** How long a read waits for its first k shards before asking one more store. */
const HEDGE_MS = 250;

export class BackendError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('volume.backend', message, options);
  }
}

/** What placement may know of a store beyond the ShardStore contract. */
export interface StoreTraits {
  /** Failure domain; default: the store is its own zone. */
  zone?: string;
  /** False while the store is known to be unreachable, so new stripes are placed around it. */
  up?(): boolean;
  /** How long it has been unreachable (0 while up): repair waits a grace period before rebuilding around it. */
  downForMs?(): number;
  /**
   * It keeps what it acknowledges with redundancy of its own (a bucket): when
   * every store does, a stripe may be stored on k of them while another is
   * down, as safe as a single-bucket volume's one shard, until repair.
   */
  durable?: boolean;
}

export class Backend {
  readonly stores: readonly ShardStore[];
  readonly #byId: Map<string, ShardStore>;
  readonly #traits: Map<string, StoreTraits>;
  /** Shard ids a reader found damaged on their store: repair checks these first. */
  readonly suspects = new Set<string>();

  constructor(stores: readonly ShardStore[], traits: ReadonlyMap<string, StoreTraits> = new Map()) {
    this.stores = stores;
    this.#byId = new Map(stores.map((s) => [s.id, s]));
    this.#traits = new Map(traits);
  }

  store(id: string): ShardStore | undefined {
    return this.#byId.get(id);
  }

  zoneOf(id: string): string {
    return this.#traits.get(id)?.zone ?? id;
  }

  isUp(id: string): boolean {
    return this.#traits.get(id)?.up?.() ?? true;
  }

  downForMs(id: string): number {
    return this.#traits.get(id)?.downForMs?.() ?? 0;
  }

  #infos(): StoreInfo[] {
    return this.stores.map((s) => ({ id: s.id, zone: this.zoneOf(s.id), capacity: null, used: 0, up: this.isUp(s.id) }));
  }

  /**
   * Puts every shard on its placed store, around stores known to be down; at
   * least k+1 must land (k when m = 0, or when every store is durable), else
   * the stripe is refused. Slots that did not land are '' in the ref: that is
   * the record repair works from.
   */
  async putStripe(stripe: SealedStripe | HeldStripe): Promise<BlockRef> {
    return (await this.putStripes([stripe]))[0];
  }

  /**
   * putStripe for several stripes at once: the shards held on worker threads
   * that go to stores keeping files are written there as one pack per store
   * and thread (a commit's shards in a few files rather than one each). Every
   * stripe is settled whatever happens; the first that cannot be stored
   * fails the call once all are done.
   */
  async putStripes(stripes: readonly (SealedStripe | HeldStripe)[]): Promise<BlockRef[]> {
    const durable = this.stores.every((s) => this.#traits.get(s.id)?.durable === true);
    const plans = stripes.map((stripe) => {
      const { descriptor } = stripe;
      const held = 'settler' in stripe ? stripe : undefined;
      const shardSize = held ? held.shardBytes : (stripe as SealedStripe).shards[0].length;
      const landed = descriptor.k + (durable ? 0 : Math.min(1, descriptor.m));
      try {
        const placement = place(descriptor.shardIds[0], this.#infos(), descriptor, {
          shardSize,
          allowDegraded: true,
          minimumDegraded: descriptor.m > 0 ? landed : undefined,
        });
        return { stripe, held, landed, stores: placement.stores.map((id) => id ?? '') };
      } catch (error) {
        return { stripe, held, landed, stores: [] as string[], error };
      }
    });
    // Shards held on the worker that sealed them are written there when their store keeps files;
    // the rest, and those whose pack failed, come here and take the usual way.
    const written = plans.map((p) => new Array<boolean>(p.stores.length).fill(false));
    const sealed = plans.map((p) => (p.held ? undefined : (p.stripe as SealedStripe)));
    const lost = new Map<number, Error>();
    const packErrors = new Map<string, Error>();
    for (const [settler, indices] of groupBy(plans.flatMap((p, i) => (p.held ? [i] : [])), (i) => plans[i].held!.settler)) {
      // Pack target n is storeOf[n]'s; stores without one (no files, a capacity) map to undefined.
      const targets: PackTarget[] = [];
      const storeOf: string[] = [];
      const targetOf = new Map<string, number | undefined>();
      const targetFor = (id: string): number | undefined => {
        if (!targetOf.has(id)) {
          const target = this.#byId.get(id)?.packTarget?.();
          targetOf.set(id, target ? targets.push(target) - 1 : undefined);
          if (target) storeOf.push(id);
        }
        return targetOf.get(id);
      };
      const settling = indices.map((i) => ({
        stripe: plans[i].held!,
        to: plans[i].error ? [] : plans[i].stores.map((id) => (id ? targetFor(id) : undefined)),
      }));
      let settled;
      try {
        settled = await settler.settle(settling, targets);
      } catch (error) {
        // Every other group is still settled; these stripes fail.
        for (const i of indices) lost.set(i, error as Error);
        continue;
      }
      for (const { target, pack } of settled.packs) this.#byId.get(storeOf[target])!.packWritten!(pack);
      for (const { target, error } of settled.failures) packErrors.set(storeOf[target], error);
      indices.forEach((i, j) => {
        written[i] = settled.stripes[j].written;
        sealed[i] = settled.stripes[j].sealed;
        if (settled.stripes[j].error) lost.set(i, settled.stripes[j].error!);
      });
    }
    const results = await Promise.allSettled(
      plans.map((plan, i) => {
        if (plan.error || lost.has(i)) return Promise.reject(plan.error ?? lost.get(i));
        return this.#putRest(plan.stripe.descriptor, plan.stores, written[i], sealed[i], plan.landed, packErrors);
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<BlockRef>).value);
  }

  /** The shards not yet written go to their stores by put, or to spare stores when those refuse. */
  async #putRest(
    descriptor: StripeDescriptor,
    stores: string[],
    written: readonly boolean[],
    sealed: SealedStripe | undefined,
    landed: number,
    packErrors: ReadonlyMap<string, Error>,
  ): Promise<BlockRef> {
    const options = { verify: sealed?.owned !== true };
    const spare = this.stores.map((s) => s.id).filter((id) => !stores.includes(id) && this.isUp(id));
    // A store that refuses (full, or failing) gives its shard to a spare store, new zones first.
    const putSomewhere = async (i: number): Promise<void> => {
      if (written[i]) return;
      const shards = sealed!.shards;
      const first = stores[i];
      if (first) {
        try {
          await this.#byId.get(first)!.put(descriptor.shardIds[i], shards[i], options);
          return;
        } catch (err) {
          if (spare.length === 0) throw packErrors.get(first) ?? err;
        }
      }
      const used = new Set(stores.filter(Boolean).map((id) => this.zoneOf(id)));
      spare.sort((a, b) => Number(used.has(this.zoneOf(a))) - Number(used.has(this.zoneOf(b))));
      let last: unknown = new BackendError('no store up for this shard');
      while (spare.length > 0) {
        const next = spare.shift()!;
        try {
          await this.#byId.get(next)!.put(descriptor.shardIds[i], shards[i], options);
          stores[i] = next;
          return;
        } catch (err) {
          last = err;
        }
      }
      throw last;
    };
    const results = await Promise.allSettled(stores.map((_, i) => putSomewhere(i)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (results.length - failed.length < landed) {
      throw new BackendError(
        `could not store a stripe: ${failed.length} of ${stores.length} shard puts failed (${failed[0]?.reason?.message})`,
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
   * one more every HEDGE_MS while fewer than k have answered. Shards arrive
   * unchecked; `open` (the stripe engine, on a worker thread) checks them
   * against their ids, and each one it rejects is replaced by another store's.
   */
  async getStripe(ref: BlockRef, keys: StripeKeys, opener: StripeOpener = HERE): Promise<Uint8Array> {
    const d = decodeDescriptor(ref.descriptor);
    // Every shard a plain file here (the local backend): the opener reads them itself, and the
    // stores are asked only if that does not work out.
    const files = opener.readsFiles ? this.#files(ref, d) : undefined;
    if (files) {
      try {
        return await this.#open(opener, d, files, keys);
      } catch (err) {
        if (!(err instanceof StripeUnrecoverableError)) throw err;
      }
    }
    const n = d.k + d.m;
    const shards: (Uint8Array | null)[] = new Array(n).fill(null);
    // Stores known to be down are asked last: only when the others cannot make k.
    const present = ref.stores.flatMap((id, i) => (id && this.#byId.has(id) ? [i] : []));
    const candidates = [...present.filter((i) => this.isUp(ref.stores[i])), ...present.filter((i) => !this.isUp(ref.stores[i]))];
    let good = 0;
    let bad: unknown;
    const gather = () =>
      new Promise<void>((resolve) => {
        let running = 0;
        const launch = () => {
          const i = candidates.shift();
          if (i === undefined) {
            if (running === 0) resolve();
            return;
          }
          running++;
          this.#byId
            .get(ref.stores[i])!
            .get(d.shardIds[i], { verify: false })
            .then(
              (bytes) => {
                shards[i] = bytes;
                good++;
              },
              (err: unknown) => {
                bad = err;
                if (err instanceof ShardCorruptError) this.suspects.add(d.shardIds[i]);
                launch();
              },
            )
            .finally(() => {
              running--;
              if (good >= d.k || (running === 0 && candidates.length === 0)) resolve();
            });
        };
        for (let i = good; i < d.k; i++) launch();
        // Every HEDGE_MS without k shards, one more store is asked: a stalled or dead peer costs a hedge, not a timeout.
        const hedge = setInterval(() => {
          if (good < d.k && candidates.length > 0) launch();
          else clearInterval(hedge);
        }, HEDGE_MS);
        hedge.unref();
      });
    for (;;) {
      await gather();
      if (good < d.k) {
        throw new BackendError(`stripe unreadable: ${good} of ${n} shards could be fetched, ${d.k} needed`, {
          cause: bad ?? new StripeUnrecoverableError(good, d.k, n, []),
        });
      }
      try {
        return await this.#open(opener, d, shards, keys);
      } catch (err) {
        if (!(err instanceof StripeUnrecoverableError) || err.bad.length === 0) throw err;
        bad = new ShardCorruptError(ref.stores[err.bad[0]], d.shardIds[err.bad[0]], err.message);
        // The opener may have taken the shards' memory: fetch the good ones again, then others for the bad.
        const again = shards.flatMap((s, i) => (s && !err.bad.includes(i) ? [i] : []));
        candidates.unshift(...again);
        shards.fill(null);
        good = 0;
      }
    }
  }

  /** Opens a stripe; every shard the opener rejects becomes a suspect for repair, whether or not it opened. */
  async #open(opener: StripeOpener, d: StripeDescriptor, sources: readonly ShardSource[], keys: StripeKeys): Promise<Uint8Array> {
    try {
      const opened = await opener.open(d, sources, keys);
      for (const i of opened.bad) this.suspects.add(d.shardIds[i]);
      return opened.block;
    } catch (err) {
      if (err instanceof StripeUnrecoverableError) for (const i of err.bad) this.suspects.add(d.shardIds[i]);
      throw err;
    }
  }

  /** The files of the stripe's shards, when every store that holds one keeps them as files. */
  #files(ref: BlockRef, d: StripeDescriptor): ShardSource[] | undefined {
    const files: ShardSource[] = [];
    for (const [i, id] of ref.stores.entries()) {
      if (!id) {
        files.push(null);
        continue;
      }
      const store = this.#byId.get(id);
      if (!store?.shardFile) return undefined;
      files.push(store.shardFile(d.shardIds[i]));
    }
    return files;
  }

  /** Best effort: a shard left behind is garbage, never a correctness problem. */
  async deleteStripe(ref: BlockRef): Promise<void> {
    const d = decodeDescriptor(ref.descriptor);
    await Promise.allSettled(ref.stores.map((id, i) => (id ? this.#byId.get(id)?.delete(d.shardIds[i]) : undefined)));
  }

  /**
   * Runs `op` on every store; resolves with the results in store order once
   * all have settled or, with `quorum`, QUORUM_GRACE_MS after a quorum has
   * succeeded: a store that died without closing its connection must not hold
   * up every commit. Results still pending then are rejections.
   */
  each<T>(op: (store: ShardStore) => Promise<T>, options: { quorum?: boolean } = {}): Promise<PromiseSettledResult<T>[]> {
    if (!options.quorum) return Promise.allSettled(this.stores.map(op));
    return new Promise((resolve) => {
      const results: (PromiseSettledResult<T> | undefined)[] = new Array(this.stores.length).fill(undefined);
      let settled = 0;
      let ok = 0;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        resolve(
          results.map(
            (r, i) => r ?? { status: 'rejected', reason: new BackendError(`store ${this.stores[i].id} had not answered`) },
          ),
        );
      };
      this.stores.forEach((store, i) => {
        op(store).then(
          (value) => {
            results[i] = { status: 'fulfilled', value };
            ok++;
          },
          (reason: unknown) => {
            results[i] = { status: 'rejected', reason };
          },
        ).finally(() => {
          settled++;
          if (settled === this.stores.length) finish();
          else if (ok >= this.quorum && timer === undefined) timer = setTimeout(finish, QUORUM_GRACE_MS);
        });
      });
    });
  }

  /** More than half of the stores: what a head or lease write needs to count. */
  get quorum(): number {
    return Math.floor(this.stores.length / 2) + 1;
  }
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
