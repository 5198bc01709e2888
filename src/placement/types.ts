/** What placement needs to know about a shard store. */
export interface StoreInfo {
  id: string;
  /** Failure domain (rack, site, provider); shards of a stripe are spread over zones. */
  zone: string;
  /** Bytes; null = unknown or unbounded. */
  capacity: number | null;
  /** Bytes already used. */
  used: number;
  up: boolean;
}

export interface Placement {
  /** Length n; index i = the store for shard i, null = not placed (degraded). */
  stores: (string | null)[];
  /** True when some slot is null; such a stripe should be recorded for repair. */
  degraded: boolean;
}

export interface ErasureCode {
  k: number;
  m: number;
}

export interface PlaceOptions {
  /** Bytes one shard takes; a store with less free space is full. */
  shardSize: number;
  /** Accept fewer than n stores (but at least k+1), leaving the highest slots null. */
  allowDegraded?: boolean;
  /**
   * The fewest usable stores a degraded placement accepts: k+1 by default;
   * k for stores that keep their own copies of what they hold (buckets), where
   * k shards are as safe as the one shard of a single-bucket volume.
   */
  minimumDegraded?: number;
}
