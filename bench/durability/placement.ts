/**
 * Which stripes a set of failed peers kills. Cairn places each stripe's n
 * shards on n distinct peers by rendezvous hashing (src/placement), which
 * for equal peers is close to choosing the n peers uniformly at random,
 * capped per zone. So with f of N peers failed, the fraction of stripes that
 * have at least t shards on failed peers is a hypergeometric tail (one
 * zone) or its zone-capped generalisation.
 */

const logFactorials: number[] = [0];

function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push(logFactorials[i - 1] + Math.log(i));
  return logFactorials[n];
}

export function logChoose(n: number, r: number): number {
  if (r < 0 || r > n) return Number.NEGATIVE_INFINITY;
  return logFactorial(n) - logFactorial(r) - logFactorial(n - r);
}

/** P(X >= t) for X ~ Hypergeometric(N peers, f failed, n drawn): a uniform stripe has >= t shards on failed peers. */
export function hypergeometricTail(N: number, f: number, n: number, t: number): number {
  const all = logChoose(N, n);
  let sum = 0;
  for (let j = Math.max(t, 0); j <= Math.min(n, f); j++) {
    sum += Math.exp(logChoose(f, j) + logChoose(N - f, n - j) - all);
  }
  return Math.min(sum, 1);
}

/**
 * The most shards of one stripe a zone may hold: the smallest L with
 * Σ_zones min(size, L) >= n, the rule docs/PLACEMENT.md describes.
 */
export function zoneCap(zoneSizes: readonly number[], n: number): number {
  const room = (cap: number) => zoneSizes.reduce((sum, size) => sum + Math.min(size, cap), 0);
  let cap = Math.ceil(n / zoneSizes.length);
  while (room(cap) < n) cap++;
  return cap;
}

/**
 * Fraction of placements (n distinct peers, at most `cap` per zone, each
 * such choice equally likely) with at least t shards on failed peers.
 * Counted with a generating function per zone, Σ_c Σ_d C(failed, d)
 * C(up, c - d) x^c y^d for c <= cap, multiplied across zones; each factor
 * is rescaled to its largest term so that huge binomials never overflow.
 */
export function zoneLossFraction(zones: readonly { size: number; failed: number }[], n: number, t: number, cap: number): number {
  // poly[c][d]: weight of placing c shards of which d on failed peers, so far.
  let poly: number[][] = [[1]];
  for (const { size, failed } of zones) {
    const up = size - failed;
    const logs: number[][] = [];
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c <= Math.min(cap, size, n); c++) {
      logs.push([]);
      for (let d = 0; d <= Math.min(c, failed); d++) {
        const w = logChoose(failed, d) + logChoose(up, c - d);
        logs[c].push(w);
        if (w > max) max = w;
      }
    }
    const next: number[][] = Array.from({ length: n + 1 }, (_, c) => new Array<number>(c + 1).fill(0));
    let top = 0;
    for (let a = 0; a < poly.length; a++) {
      for (let da = 0; da < poly[a].length; da++) {
        const wa = poly[a][da];
        if (wa === 0) continue;
        for (let c = 0; c < logs.length && a + c <= n; c++) {
          for (let d = 0; d < logs[c].length; d++) {
            const v = (next[a + c][da + d] += wa * Math.exp(logs[c][d] - max));
            if (v > top) top = v;
          }
        }
      }
    }
    poly = next.map((row) => row.map((v) => v / top));
  }
  const full = poly[n] ?? [];
  const total = full.reduce((s, v) => s + v, 0);
  if (total === 0) throw new RangeError(`no placement of ${n} shards fits these zones with at most ${cap} per zone`);
  let lost = 0;
  for (let d = Math.max(t, 0); d < full.length; d++) lost += full[d];
  return lost / total;
}

/**
 * Probability that a failure event kills at least one of `stripes` stripes,
 * given that none was dead before it: the failed set grew so that the
 * fraction of placements with too many failed shards went from `before` to
 * `after`. Stripes are placed independently of each other, so the volume
 * survives only if every stripe does: 1 - ((1 - after) / (1 - before))^stripes.
 */
export function newLossProbability(before: number, after: number, stripes: number): number {
  if (after >= 1) return 1;
  return -Math.expm1(stripes * (Math.log1p(-after) - Math.log1p(-before)));
}
