/**
 * The durability models against published figures (Backblaze's
 * erasure-coding-durability README) and against values worked out here by
 * hand, with plain arithmetic that shares nothing with the code under test.
 */
import { describe, expect, it } from 'vitest';
import { type Cluster, markovModel, oneStripe, periodModel } from '../../bench/durability/models.js';
import { hypergeometricTail, zoneCap, zoneLossFraction } from '../../bench/durability/placement.js';
import { parseScheme } from '../../bench/durability/scheme.js';
import { nines, wilson } from '../../bench/durability/stats.js';

const YEAR_H = 8760;
const choose = (n: number, k: number) => {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c;
};
/** |actual - expected| <= rel · |expected| */
const closeTo = (actual: number, expected: number, rel: number) =>
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(rel * Math.abs(expected));

const stripe = (k: number, m: number, afr: number, repairHours: number): Cluster =>
  oneStripe({ n: k + m, m, afr, repairHours, peers: k + m, stripes: 1 });

describe('the period model (Backblaze)', () => {
  it("matches Backblaze's published 4+2 example: AFR 10%, 1-day replacement -> 4.110e-10 per period, 1.500e-7 a year, 6 nines", () => {
    // `python durability.py 4 2 0.10 1` in github.com/Backblaze/erasure-coding-durability (README).
    const r = periodModel(stripe(4, 2, 0.1, 24));
    closeTo(r.periodLoss, 4.11e-10, 1e-3);
    closeTo(r.annualLoss, 1.5e-7, 1e-3);
    expect(Math.floor(nines(r.annualLoss))).toBe(6);
  });

  it("matches Backblaze's published 17+3 example: AFR 0.405%, 6.5 days -> 1.310e-13 per period, 7.354e-12 a year, 11 nines", () => {
    // `python3 durability.py 17 3 0.00405 6.5` in the same README: the "11 nines" of the blog post.
    const r = periodModel(stripe(17, 3, 0.00405, 6.5 * 24));
    closeTo(r.periodLoss, 1.31e-13, 1e-3);
    closeTo(r.annualLoss, 7.354e-12, 1e-3);
    expect(Math.floor(nines(r.annualLoss))).toBe(11);
  });

  it('equals the binomial sum worked out by hand for 6+3 at AFR 3%, 72 h', () => {
    const F = 0.03 * (72 / YEAR_H);
    let period = 0;
    for (let j = 4; j <= 9; j++) period += choose(9, j) * F ** j * (1 - F) ** (9 - j);
    // 1 - (1 - p)^Y expanded, since 1 - p rounds away most digits of a p this small.
    const Y = YEAR_H / 72;
    const annual = Y * period - ((Y * (Y - 1)) / 2) * period ** 2;
    const r = periodModel(stripe(6, 3, 0.03, 72));
    closeTo(r.periodLoss, period, 1e-9);
    closeTo(r.annualLoss, annual, 1e-9);
  });

  it('for a volume of 2 stripes of 2+1 on 4 peers: a failed pair kills a given stripe half the time, any 3 failed kill one', () => {
    // Of the C(4,3) = 4 placements of a stripe, 2 hold both of 2 failed peers; with 3 failed, all 4 hold 2 of them.
    const F = 0.5 * (100 / YEAR_H);
    const pair = 1 - (1 - 2 / 4) ** 2;
    const period =
      choose(4, 2) * F ** 2 * (1 - F) ** 2 * pair + choose(4, 3) * F ** 3 * (1 - F) + F ** 4;
    const r = periodModel({ n: 3, m: 1, afr: 0.5, repairHours: 100, peers: 4, stripes: 2 });
    closeTo(r.periodLoss, period, 1e-9);
  });

  it('refuses a repair time as long as the mean time between failures', () => {
    expect(() => periodModel(stripe(4, 2, 100, YEAR_H / 100))).toThrow(RangeError);
  });
});

describe('the Markov chain model', () => {
  it('gives the textbook MTTDL ((2n-1)λ + μ) / (n(n-1)λ²) for one parity shard', () => {
    const lambda = 0.05;
    const mu = YEAR_H / 48;
    const n = 3;
    const mttdl = ((2 * n - 1) * lambda + mu) / (n * (n - 1) * lambda ** 2);
    const r = markovModel(stripe(2, 1, lambda, 48));
    closeTo(r.mttdlYears, mttdl, 1e-12);
    closeTo(r.annualLoss, 1 - Math.exp(-1 / mttdl), 1e-9);
  });

  it('adds up the passage times of 4+2 by hand (parallel repair: i·μ with i shards down)', () => {
    const lambda = 0.02;
    const mu = YEAR_H / 24;
    // τ_i: expected time to go from i to i+1 failed shards.
    const t0 = 1 / (6 * lambda);
    const t1 = (1 + mu * t0) / (5 * lambda);
    const t2 = (1 + 2 * mu * t1) / (4 * lambda);
    const r = markovModel(stripe(4, 2, lambda, 24));
    closeTo(r.mttdlYears, t0 + t1 + t2, 1e-12);
  });

  it('keeps its precision past 19 nines (17+3, AFR 0.1%, 1 h repair)', () => {
    const lambda = 0.001;
    const mu = YEAR_H / 1;
    let tau = 0;
    let mttdl = 0;
    for (let i = 0; i <= 3; i++) {
      tau = (1 + i * mu * tau) / ((20 - i) * lambda);
      mttdl += tau;
    }
    const r = markovModel(stripe(17, 3, lambda, 1));
    closeTo(r.mttdlYears, mttdl, 1e-12);
    closeTo(r.annualLoss, 1 / mttdl, 1e-12);
    expect(nines(r.annualLoss)).toBeGreaterThan(19);
  });

  it('for a volume of 2 stripes of 2+1 on 4 peers, solves the chain worked out by hand', () => {
    const lambda = 0.5;
    const mu = YEAR_H / 100;
    // From 1 failed peer, the next failure kills one of the 2 stripes with probability 1 - (1/2)^2; from 2, always.
    const kill1 = 1 - 0.5 ** 2;
    // T0 = 1/(4λ) + T1;  (3λ + μ) T1 = 1 + 3λ(1-kill1) T2 + μ T0;  (2λ + 2μ) T2 = 1 + 2μ T1.
    const a = 1 / (4 * lambda);
    const b = 3 * lambda * (1 - kill1);
    const t1 = (1 + b / (2 * lambda + 2 * mu) + mu * a) / (3 * lambda + mu - mu - (b * 2 * mu) / (2 * lambda + 2 * mu));
    const r = markovModel({ n: 3, m: 1, afr: lambda, repairHours: 100, peers: 4, stripes: 2 });
    closeTo(r.mttdlYears, a + t1, 1e-9);
  });

  it('loses about m+1 times more than the period model when repairs are short (sliding windows vs calendar periods)', () => {
    for (const [k, m] of [
      [2, 1],
      [4, 2],
      [6, 3],
    ]) {
      const c = stripe(k, m, 0.01, 1);
      const ratio = markovModel(c).annualLoss / periodModel(c).annualLoss;
      closeTo(ratio, m + 1, 0.01);
    }
  });
});

describe('which stripes a set of failed peers kills', () => {
  it('is the hypergeometric tail: 2 of 4 peers failed hit both shards of 1/6 of the pairs', () => {
    expect(hypergeometricTail(4, 2, 2, 2)).toBeCloseTo(1 / 6, 12);
    // 3 of 10 failed, stripes of 4, at least 2 shards failed: (C(3,2)C(7,2) + C(3,3)C(7,1)) / C(10,4).
    expect(hypergeometricTail(10, 3, 4, 2)).toBeCloseTo((3 * 21 + 7) / 210, 12);
  });

  it('with one zone, counts placements as the hypergeometric tail does', () => {
    expect(zoneLossFraction([{ size: 10, failed: 3 }], 4, 2, 4)).toBeCloseTo((3 * 21 + 7) / 210, 12);
  });

  it('with a zone cap, counts only placements that respect it', () => {
    // Zones of 2 peers, 1 failed in each, one shard per zone: 4 placements, 1 on both failed peers.
    const zones = [
      { size: 2, failed: 1 },
      { size: 2, failed: 1 },
    ];
    expect(zoneLossFraction(zones, 2, 2, 1)).toBeCloseTo(1 / 4, 12);
    // 3 zones of 4 peers, zone 0 down, 4+2 with 2 shards per zone: every stripe has exactly 2 dead shards.
    const down = [
      { size: 4, failed: 4 },
      { size: 4, failed: 0 },
      { size: 4, failed: 0 },
    ];
    expect(zoneLossFraction(down, 6, 2, 2)).toBeCloseTo(1, 12);
    expect(zoneLossFraction(down, 6, 3, 2)).toBe(0);
  });

  it('caps shards per zone as docs/PLACEMENT.md says (zones of 1, 1, 10 and 4+2 give a cap of 4)', () => {
    expect(zoneCap([1, 1, 10], 6)).toBe(4);
    expect(zoneCap([8, 8, 8], 6)).toBe(2);
    expect(zoneCap([6, 6, 6, 6], 3)).toBe(1);
  });
});

describe('schemes and statistics', () => {
  it('parses K+M and Nx replication', () => {
    expect(parseScheme('4+2')).toEqual({ label: '4+2', k: 4, m: 2, n: 6 });
    expect(parseScheme('3x')).toEqual({ label: '3x', k: 1, m: 2, n: 3 });
    expect(() => parseScheme('4+x')).toThrow(/not a scheme/);
    expect(() => parseScheme('0x')).toThrow(/replication/);
  });

  it('gives the Wilson interval worked out by hand', () => {
    const z = 1.959963984540054;
    // No success in 100: [0, z²/(n + z²)].
    const [lo0, hi0] = wilson(0, 100);
    expect(lo0).toBe(0);
    expect(hi0).toBeCloseTo((z * z) / (100 + z * z), 12);
    // 5 of 100.
    const center = (0.05 + (z * z) / 200) / (1 + (z * z) / 100);
    const half = (z * Math.sqrt((0.05 * 0.95) / 100 + (z * z) / 40000)) / (1 + (z * z) / 100);
    const [lo, hi] = wilson(5, 100);
    expect(lo).toBeCloseTo(center - half, 12);
    expect(hi).toBeCloseTo(center + half, 12);
    expect(lo).toBeCloseTo(0.0215, 4);
    expect(hi).toBeCloseTo(0.1118, 3);
    expect(wilson(100, 100)[1]).toBe(1);
  });
});
