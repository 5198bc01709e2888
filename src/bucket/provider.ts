/**
 * The bucket backend of a session: `--backend bucket:B1[,B2…]` opens one
 * S3Store per configured bucket (once per process, however many volumes and
 * catalogs use it). Each bucket is its own failure domain (zone = its name),
 * is reported down while it fails, so new stripes are placed around it, and
 * is durable: it keeps its own copies, so a stripe may be stored on k buckets
 * while another is down (docs/BUCKETS.md).
 */
import type { BackendSpec, StoreProvider } from '../cluster/index.js';
import { CairnError, UsageError } from '../errors/index.js';
import { S3Store } from '../store/index.js';
import { Backend, type StoreTraits } from '../volume/index.js';
import type { BucketConfig } from './config.js';
import { readBuckets } from './file.js';

export class UnknownBucketError extends CairnError {
  constructor(name: string, known: string[]) {
    const list = known.length > 0 ? `configured here: ${known.join(', ')}` : 'none is configured here';
    super('bucket.unknown', `no bucket named "${name}" on this machine (${list}); add it with \`cairn bucket add ${name} --endpoint URL --bucket B …\``);
  }
}

export class BucketProvider implements StoreProvider {
  readonly #home: string;
  readonly #masterKey: Uint8Array;
  #configs: Promise<Map<string, BucketConfig>> | undefined;
  readonly #stores = new Map<string, S3Store>();

  constructor(home: string, masterKey: Uint8Array) {
    this.#home = home;
    this.#masterKey = masterKey;
  }

  async backend(spec: BackendSpec, n: number): Promise<Backend> {
    if (spec.kind !== 'bucket') throw new UsageError(`the bucket backend cannot open a ${spec.kind} backend`);
    const count = spec.buckets.length;
    if (n !== count) {
      throw new UsageError(
        count === 1
          ? `a volume on one bucket keeps one shard per stripe (--code 1+0, the default there), not ${n}: the bucket itself keeps copies`
          : `a volume on ${count} buckets keeps one shard per bucket: its code must have ${count} shards, not ${n}`,
      );
    }
    const stores = await Promise.all(spec.buckets.map((name) => this.#store(name)));
    const traits = new Map<string, StoreTraits>(
      stores.map((store, i) => [store.id, { zone: spec.buckets[i], up: () => store.up, downForMs: () => store.downForMs, durable: true }]),
    );
    return new Backend(stores, traits);
  }

  /** Every configured bucket keeps a catalog of the volumes on it. */
  async homes(): Promise<string[]> {
    return [...(await this.#load()).keys()].map((name) => `bucket:${name}`);
  }

  async close(): Promise<void> {
    const stores = [...this.#stores.values()];
    this.#stores.clear();
    await Promise.all(stores.map((s) => s.close()));
  }

  async #store(name: string): Promise<S3Store> {
    let store = this.#stores.get(name);
    if (store === undefined) {
      const configs = await this.#load();
      const config = configs.get(name);
      if (config === undefined) throw new UnknownBucketError(name, [...configs.keys()]);
      store = this.#stores.get(name) ?? new S3Store({ id: `bucket:${name}`, location: config.location, credentials: config.credentials });
      this.#stores.set(name, store);
    }
    return store;
  }

  #load(): Promise<Map<string, BucketConfig>> {
    this.#configs ??= readBuckets(this.#home, this.#masterKey).then((list) => new Map(list.map((b) => [b.name, b])));
    return this.#configs;
  }
}
