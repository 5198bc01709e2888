/** z for a two-sided 95% interval. */
const Z95 = 1.959963984540054;

/**
 * Wilson score interval for a binomial proportion (losses out of trials):
 * unlike p ± z·sqrt(p(1-p)/n) it stays within [0, 1] and gives a useful
 * upper bound when no loss was seen at all.
 */
export function wilson(successes: number, trials: number, z = Z95): [number, number] {
  const p = successes / trials;
  const z2n = (z * z) / trials;
  const center = (p + z2n / 2) / (1 + z2n);
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2n / (4 * trials))) / (1 + z2n);
  // At 0 or all successes one bound is exactly 0 or 1; rounding would leave ~1e-22 there.
  return [successes === 0 ? 0 : Math.max(0, center - half), successes === trials ? 1 : Math.min(1, center + half)];
}

/** "Nines" of durability: 1e-11 annual loss is 11 nines (99.999999999%); no loss at all is infinitely many. */
export function nines(loss: number): number {
  return -Math.log10(loss);
}
