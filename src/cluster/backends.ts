/**
 * Where a volume's shards live, named by a backend spec: `local` (n
 * directories on this machine), `peers` (the cluster's storage peers) or
 * `bucket:B1[,B2…]` (S3 buckets from `cairn bucket add`). A session opens each
 * set of stores once, however many volumes and catalogs use it.
 */
import { UsageError } from '../errors/index.js';
import type { Backend } from '../volume/index.js';
import { CATALOG_STORES, LocalStores } from './local.js';

export type BackendSpec = { kind: 'local' } | { kind: 'peers' } | { kind: 'bucket'; buckets: string[] };

const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function parseBackendSpec(text: string): BackendSpec {
  if (text === 'local' || text === 'peers') return { kind: text };
  if (text.startsWith('bucket:')) {
    const buckets = text.slice('bucket:'.length).split(',');
    const bad = buckets.find((b) => !BUCKET_NAME.test(b));
    if (bad !== undefined) throw new UsageError(`"${bad}" in --backend ${text} is not a bucket name (lowercase letters, digits, -)`);
    if (new Set(buckets).size !== buckets.length) throw new UsageError(`--backend ${text} names a bucket twice`);
    return { kind: 'bucket', buckets };
  }
  throw new UsageError(`unknown backend "${text}": use local, peers or bucket:NAME[,NAME…]`);
}

export function formatBackendSpec(spec: BackendSpec): string {
  return spec.kind === 'bucket' ? `bucket:${spec.buckets.join(',')}` : spec.kind;
}

/**
 * The catalogs a volume on `spec` is listed in: one per set of stores that
 * another machine can find on its own. A multi-bucket volume is listed in
 * each of its buckets, so it stays listed while any one bucket is reachable.
 */
export function catalogHomes(spec: BackendSpec): string[] {
  return spec.kind === 'bucket' ? spec.buckets.map((b) => `bucket:${b}`) : [spec.kind];
}

/** A kind of backend beyond `local`, as the session sees it. */
export interface StoreProvider {
  /** The backend for a volume of n shards on `spec` (whose kind is this provider's). */
  backend(spec: BackendSpec, n: number): Promise<Backend>;
  /** The catalog homes this machine is configured for (e.g. `peers`, or `bucket:B` for each bucket). */
  homes(): Promise<string[]>;
  close(): Promise<void>;
}

export class Backends {
  readonly local: LocalStores;
  readonly #providers: Map<string, StoreProvider>;

  constructor(home: string, providers: Partial<Record<'peers' | 'bucket', StoreProvider>> = {}) {
    this.local = new LocalStores(home);
    this.#providers = new Map(Object.entries(providers));
  }

  async open(spec: BackendSpec, n: number): Promise<Backend> {
    if (spec.kind === 'local') return this.local.backend(n);
    const provider = this.#providers.get(spec.kind);
    if (!provider) throw new UsageError(`this session has no ${spec.kind} backend`);
    return provider.backend(spec, n);
  }

  /** The stores a catalog home keeps its catalog on. */
  async catalogBackend(home: string): Promise<Backend> {
    const spec = parseBackendSpec(home);
    return this.open(spec, spec.kind === 'local' ? CATALOG_STORES : 1);
  }

  /** Every catalog home this machine can look in: local, then the configured peers and buckets. */
  async homes(): Promise<string[]> {
    const more = await Promise.all([...this.#providers.values()].map((p) => p.homes()));
    return ['local', ...more.flat()];
  }

  async close(): Promise<void> {
    await Promise.all([this.local.close(), ...[...this.#providers.values()].map((p) => p.close())]);
  }
}
