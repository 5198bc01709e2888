import { InsufficientStoresError } from './errors.js';
import { hash64, slotHash, storeHash, unitScore } from './hash.js';
import type { ErasureCode, PlaceOptions, Placement, StoreInfo } from './types.js';
import { validate } from './validate.js';

/**
 * Chooses the stores for one stripe: shard 0's store first, then shard 1's
 * among the rest, and so on, each by weighted rendezvous hashing over the
 * usable stores whose zone is not yet at its cap. See docs/PLACEMENT.md.
 */
export function place(
  key: string,
  stores: readonly StoreInfo[],
  code: ErasureCode,
  options: PlaceOptions,
): Placement {
  validate(key, stores, code, options);
  const { k, m } = code;
  const n = k + m;
  const { shardSize } = options;

  const usable: StoreInfo[] = [];
  let down = 0;
  let full = 0;
  for (const s of stores) {
    // A store that is down is counted as down even if also full: coming back
    // up is what the operator would have to do first.
    if (!s.up) down++;
    else if (s.capacity !== null && s.capacity - s.used < shardSize) full++;
    else usable.push(s);
  }

  let count = n;
  if (usable.length < n) {
    const degradedAllowed = options.allowDegraded === true;
    // k+1, not k: a stripe born with exactly k shards is one loss from gone (unless the stores keep copies).
    const minimum = options.minimumDegraded ?? k + 1;
    if (!degradedAllowed || m === 0 || usable.length < minimum) {
      throw new InsufficientStoresError({
        needed: n,
        usable: usable.length,
        down,
        full,
        total: stores.length,
        k,
        m,
        degradedAllowed,
        minimumDegraded: minimum,
      });
    }
    count = usable.length;
  }

  const candidates = usable.length;
  let defaultWeight: number | undefined;
  const hi = new Uint32Array(candidates);
  const lo = new Uint32Array(candidates);
  const weight = new Float64Array(candidates);
  const zoneOf = new Uint32Array(candidates);
  const zoneIndex = new Map<string, number>();
  for (let j = 0; j < candidates; j++) {
    const s = usable[j];
    const h = storeHash(s.id);
    hi[j] = h.hi;
    lo[j] = h.lo;
    // Total capacity, not free space: free space changes with every write and
    // would reshuffle placements that should stay put.
    weight[j] = s.capacity ?? (defaultWeight ??= medianCapacity(stores));
    let z = zoneIndex.get(s.zone);
    if (z === undefined) {
      z = zoneIndex.size;
      zoneIndex.set(s.zone, z);
    }
    zoneOf[j] = z;
  }
  const zoneSize = new Uint32Array(zoneIndex.size);
  for (let j = 0; j < candidates; j++) zoneSize[zoneOf[j]]++;
  const cap = zoneCap(zoneSize, count);

  const zoneUsed = new Uint32Array(zoneIndex.size);
  const taken = new Uint8Array(candidates);
  const keyHash = hash64(key);
  const result: (string | null)[] = new Array<string | null>(n).fill(null);
  for (let i = 0; i < count; i++) {
    const slot = slotHash(keyHash, i);
    let best = -1;
    let bestScore = -Infinity;
    for (let j = 0; j < candidates; j++) {
      if (taken[j] === 1 || zoneUsed[zoneOf[j]] >= cap) continue;
      // Weighted rendezvous: with x uniform in (0,1), -ln x / w is an
      // exponential race of rate w, so -w / ln x is largest for a store with
      // probability proportional to w, and no store's score depends on which
      // other stores exist.
      const x = unitScore(slot.hi, slot.lo, hi[j], lo[j]);
      // Skip the logarithm for stores that cannot win: -ln x > 1 - x, so the
      // score is below w / (1 - x). The factor keeps the test strict despite
      // rounding, so skipping never changes the answer (or makes it depend on
      // the order of `stores`). Most stores are ruled out here.
      if (weight[j] < bestScore * (1 - x) * SKIP_MARGIN) continue;
      const score = -weight[j] / Math.log(x);
      // Ties (only on a 64-bit hash collision between equally weighted
      // stores) go to the smaller id so the answer never depends on the order of `stores`.
      if (score > bestScore || (score === bestScore && best >= 0 && usable[j].id < usable[best].id)) {
        best = j;
        bestScore = score;
      }
    }
    // zoneCap guarantees a candidate: every pick uses one of the
    // sum(min(size, cap)) >= count zone places, so some remain until the end.
    taken[best] = 1;
    zoneUsed[zoneOf[best]]++;
    result[i] = usable[best].id;
  }
  return { stores: result, degraded: count < n };
}

const SKIP_MARGIN = 1 - 2 ** -40;

/**
 * The smallest per-zone maximum that still lets `count` distinct stores be
 * chosen: ceil(count / zones) when every zone has enough stores, more when a
 * small zone forces the others to take up its share.
 */
function zoneCap(zoneSizes: ArrayLike<number>, count: number): number {
  const zones = zoneSizes.length;
  let total = 0;
  for (let z = 0; z < zones; z++) total += zoneSizes[z];
  // Unreachable from place (count <= usable stores); guards the loop below.
  if (count > total) throw new RangeError(`cannot choose ${count} of ${total} stores`);
  if (count === 0) return 0;
  for (let cap = Math.ceil(count / zones); ; cap++) {
    let room = 0;
    for (let z = 0; z < zones; z++) room += Math.min(zoneSizes[z], cap);
    if (room >= count) return cap;
  }
}

/**
 * Weight for stores whose capacity is unknown: the median known capacity, so
 * such a store is treated as a typical member rather than a huge or tiny one.
 * Taken over every store offered (down and full ones too) so a store going
 * down does not change the weight of the stores of unknown capacity.
 */
function medianCapacity(stores: readonly StoreInfo[]): number {
  const known = Float64Array.from(
    stores.flatMap((s) => (s.capacity !== null && s.capacity > 0 ? [s.capacity] : [])),
  ).sort();
  if (known.length === 0) return 1;
  const mid = known.length >> 1;
  return known.length % 2 === 1 ? known[mid] : (known[mid - 1] + known[mid]) / 2;
}
