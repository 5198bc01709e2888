/**
 * Seeded randomness for tests, so a failure can be replayed: the seed comes
 * from CAIRN_TEST_SEED or the clock, and failing tests print it.
 */
export const TEST_SEED = Number(process.env.CAIRN_TEST_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: small, fast, good enough to pick cases and fill buffers. */
export function rng(seed = TEST_SEED): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export function randomInt(next: () => number, lo: number, hi: number): number {
  return lo + Math.floor(next() * (hi - lo + 1));
}

export function randomBytes(next: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, length >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = next() * 2 ** 32;
  for (let i = words.length * 4; i < length; i++) out[i] = next() * 256;
  return out;
}

/** Every subset of {0..n-1} with at most `max` members, smallest first. */
export function subsetsUpTo(n: number, max: number): number[][] {
  const out: number[][] = [[]];
  const grow = (start: number, current: number[]) => {
    for (let i = start; i < n; i++) {
      const next = [...current, i];
      out.push(next);
      if (next.length < max) grow(i + 1, next);
    }
  };
  if (max > 0) grow(0, []);
  return out;
}
