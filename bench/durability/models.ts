/**
 * The two standard durability models, for one stripe or a whole volume of
 * many stripes spread over a cluster (bench/README.md states them with
 * their sources and assumptions). A stripe alone is the special case of a
 * cluster of exactly n peers holding one stripe.
 */
import { hypergeometricTail, logChoose, newLossProbability } from './placement.js';

export const HOURS_PER_YEAR = 365 * 24;

export interface Cluster {
  /** Shards per stripe, and how many of them may be lost. */
  n: number;
  m: number;
  /** Failures per peer per year. */
  afr: number;
  /** Time to restore one failed peer's shards. */
  repairHours: number;
  peers: number;
  stripes: number;
}

/** The cluster a single stripe sees: its own n peers. */
export function oneStripe(c: Cluster): Cluster {
  return { ...c, peers: c.n, stripes: 1 };
}

/** Fraction of stripes with more than m of their n shards among f failed peers. */
function deadFraction(c: Cluster, f: number): number {
  return hypergeometricTail(c.peers, f, c.n, c.m + 1);
}

/** 1 - (1 - p)^times without losing tiny p to rounding. */
function atLeastOnce(p: number, times: number): number {
  return p >= 1 ? 1 : -Math.expm1(times * Math.log1p(-p));
}

/**
 * Backblaze's period model: a year is 365/R periods of one repair time R;
 * each peer fails within a period with probability F = AFR · R / 1 year
 * (the rate, used as a probability as durability.py does); data is lost in
 * a period when the peers failed in it hold more than m shards of a stripe.
 * For a volume, f failed peers of N kill some stripe with probability
 * 1 - (1 - H(f))^stripes, H the hypergeometric tail.
 */
export function periodModel(c: Cluster): { periodLoss: number; annualLoss: number } {
  const years = c.repairHours / HOURS_PER_YEAR;
  const F = c.afr * years;
  if (!(F < 1)) throw new RangeError(`AFR ${c.afr} × repair ${c.repairHours} h is a failure per peer per repair period or more`);
  let periodLoss = 0;
  for (let f = c.m + 1; f <= c.peers; f++) {
    const failed = Math.exp(logBinomialPmf(c.peers, f, F));
    if (failed === 0) continue;
    periodLoss += failed * atLeastOnce(deadFraction(c, f), c.stripes);
  }
  periodLoss = Math.min(periodLoss, 1);
  return { periodLoss, annualLoss: atLeastOnce(periodLoss, 1 / years) };
}

function logBinomialPmf(n: number, j: number, p: number): number {
  return logChoose(n, j) + j * Math.log(p) + (n - j) * Math.log1p(-p);
}

/**
 * Expected time to absorption from state 0 of a birth-death chain with
 * killing: from state f, `birth[f]` leads to f + 1, `death[f]` to f - 1 and
 * `kill[f]` to data loss. Eliminated from the top state down so that every
 * step adds and divides positive numbers (no cancellation, even when the
 * answer is 10^20 years).
 */
export function absorptionTime(birth: readonly number[], death: readonly number[], kill: readonly number[]): number {
  let a = 0; // T_{f+1} = a + (1 - c) T_f for the state above
  let c = 0;
  for (let f = birth.length - 1; f >= 0; f--) {
    const d = death[f] + kill[f] + birth[f] * c;
    c = (kill[f] + birth[f] * c) / d;
    a = (1 + birth[f] * a) / d;
  }
  return a;
}

/**
 * The Markov chain model: the state is the number f of failed peers whose
 * shards are not yet restored; each live peer fails at rate λ = AFR, each
 * failed one is restored at rate μ = 1/R independently of the others
 * (repairs run in parallel, f·μ). A failure that leaves some stripe with
 * more than m failed shards is data loss. Mean time to data loss (MTTDL)
 * from the all-healthy state, and annual loss 1 - exp(-1 year / MTTDL).
 */
export function markovModel(c: Cluster): { mttdlYears: number; annualLoss: number } {
  const lambda = c.afr;
  const mu = HOURS_PER_YEAR / c.repairHours;
  const birth: number[] = [];
  const death: number[] = [];
  const kill: number[] = [];
  let before = 0;
  for (let f = 0; f < c.peers; f++) {
    const after = deadFraction(c, f + 1);
    const loss = newLossProbability(before, after, c.stripes);
    const rate = (c.peers - f) * lambda;
    birth.push(rate * (1 - loss));
    death.push(f * mu);
    kill.push(rate * loss);
    if (loss >= 1) break;
    before = after;
  }
  const mttdlYears = absorptionTime(birth, death, kill);
  return { mttdlYears, annualLoss: -Math.expm1(-1 / mttdlYears) };
}
