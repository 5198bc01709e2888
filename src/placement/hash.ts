/**
 * Non-cryptographic hashing for rendezvous scores. Placement must be the same
 * on every machine and fast enough to run per stripe, so it uses murmur3's
 * 32-bit pieces in plain integer arithmetic rather than a digest.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const GOLDEN = 0x9e3779b9;

/** murmur3's finaliser: a bijection on 32-bit ints with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * murmur3 x86_32 over the string's UTF-16 code units, two per block. Code
 * units rather than UTF-8 bytes because it avoids an encoder per call and the
 * result only has to agree with itself.
 */
export function murmur3(s: string, seed: number): number {
  let h = seed >>> 0;
  const len = s.length;
  let i = 0;
  for (; i + 1 < len; i += 2) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  return fmix32(h ^ (len * 2));
}

/**
 * Two independent 32-bit hashes of an id. 64 bits keep two stores from sharing
 * a hash (which would make them tie on every stripe) with any real fleet size.
 */
export interface Hash64 {
  readonly hi: number;
  readonly lo: number;
}

const SEED_HI = 0x2f1e4d3c;
const SEED_LO = 0x6a09e667;

export function hash64(s: string): Hash64 {
  return { hi: murmur3(s, SEED_HI), lo: murmur3(s, SEED_LO) };
}

// Store ids recur on every stripe; stripe keys almost never do, so only store
// ids go through the cache. Bounded so a long-lived process that sees many
// short-lived stores does not grow without limit.
const STORE_CACHE_LIMIT = 4096;
const storeCache = new Map<string, Hash64>();

export function storeHash(id: string): Hash64 {
  let h = storeCache.get(id);
  if (h === undefined) {
    if (storeCache.size >= STORE_CACHE_LIMIT) storeCache.clear();
    h = hash64(id);
    storeCache.set(id, h);
  }
  return h;
}

/**
 * The per-(stripe, shard index) half of a score. Each shard index gets its own
 * independent ranking of stores, which is what keeps one slot's change from
 * shifting the others.
 */
export function slotHash(key: Hash64, index: number): Hash64 {
  const i = Math.imul(index + 1, GOLDEN);
  return { hi: fmix32(key.hi ^ i), lo: fmix32((key.lo + fmix32(i)) | 0) };
}

const TWO_POW_20 = 1 << 20;
const TWO_POW_52 = 2 ** 52;

/**
 * A uniform number strictly inside (0, 1) for (slot, store), from 52 bits:
 * 52 rather than 53 so that numerator + 0.5 is exact and can never round up
 * to 1 (where ln u = 0 and the weighted score would blow up).
 */
export function unitScore(slotHi: number, slotLo: number, storeHi: number, storeLo: number): number {
  const a = fmix32(slotHi ^ storeHi);
  const b = fmix32(slotLo ^ storeLo ^ Math.imul(a, GOLDEN));
  return (a * TWO_POW_20 + (b >>> 12) + 0.5) / TWO_POW_52;
}
