/**
 * The Monte Carlo against the models where the models' assumptions hold and
 * loss is frequent enough to measure (many failures a year, short repairs):
 * the model's annual loss must lie inside the simulation's 95% interval.
 */
import { describe, expect, it } from 'vitest';
import { type Cluster, markovModel, oneStripe, periodModel } from '../../bench/durability/models.js';
import { parseScheme } from '../../bench/durability/scheme.js';
import { type SimulationParams, simulate } from '../../bench/durability/simulate.js';

const YEAR_H = 8760;

function run(over: Omit<Partial<SimulationParams>, 'scheme'> & { scheme: string }) {
  const scheme = parseScheme(over.scheme);
  const params: SimulationParams = {
    afr: 8,
    repairHours: 0.002 * YEAR_H,
    peers: scheme.n,
    zones: 1,
    zoneFailureRate: 0,
    stripes: 1,
    trials: 20_000,
    seed: 20240607,
    ...over,
    scheme,
  };
  const { afr, repairHours, peers, stripes } = params;
  const cluster: Cluster = { n: scheme.n, m: scheme.m, afr, repairHours, peers, stripes };
  return { result: simulate(params), cluster };
}

function expectInside(value: number, [lo, hi]: [number, number]) {
  expect(value, `${value} outside [${lo}, ${hi}]`).toBeGreaterThanOrEqual(lo);
  expect(value, `${value} outside [${lo}, ${hi}]`).toBeLessThanOrEqual(hi);
}

describe('the durability simulation', () => {
  it('gives the same answer for the same seed, and another for another seed', () => {
    const a = run({ scheme: '4+2', trials: 5000 }).result;
    const b = run({ scheme: '4+2', trials: 5000 }).result;
    const c = run({ scheme: '4+2', trials: 5000, seed: 1 }).result;
    expect(b).toEqual(a);
    expect(a.volumeLosses).toBeGreaterThan(0);
    expect(c.volumeLosses).not.toBe(a.volumeLosses);
  });

  it('agrees with the Markov chain for one stripe when repairs are memoryless, as the chain assumes (4+2)', () => {
    const { result, cluster } = run({ scheme: '4+2', repair: 'exponential' });
    expect(result.volumeLosses).toBeGreaterThan(1000);
    expectInside(markovModel(cluster).annualLoss, result.volumeCi95);
  });

  it('agrees with the Markov chain for fixed repair times too, while the period model is far below (2+1, 4+2)', () => {
    for (const [scheme, afr, years] of [
      ['2+1', 10, 0.0005],
      ['4+2', 8, 0.002],
    ] as const) {
      const { result, cluster } = run({ scheme, afr, repairHours: years * YEAR_H });
      expectInside(markovModel(cluster).annualLoss, result.volumeCi95);
      // Calendar periods miss the overlaps that straddle a period boundary: about m+1 times too few losses.
      expect(periodModel(cluster).annualLoss).toBeLessThan(result.volumeCi95[0]);
    }
  });

  // Where stripes share a larger cluster, the chain and the simulation both judge a failure by the failed set alone
  // (bench/README.md); these check the counting and the conditioning on "nothing died before", not that shortcut.
  it('agrees with the volume chain when stripes share a larger cluster (4+2, 50 stripes on 12 peers)', () => {
    const { result, cluster } = run({ scheme: '4+2', afr: 6, peers: 12, stripes: 50, repair: 'exponential' });
    expectInside(markovModel(cluster).annualLoss, result.volumeCi95);
    // A given stripe lives on 6 of the 12 peers and fares about as a stripe alone does.
    expectInside(markovModel(oneStripe(cluster)).annualLoss, result.stripeCi95);
    expect(result.volumeCi95[0]).toBeGreaterThan(result.stripeCi95[1]);
  });

  it('agrees with the volume chain when a few stripes spread over many peers, so most failed pairs kill nothing', () => {
    // 2+1, 3 stripes on 12 peers: a failed pair holds 2 shards of a given stripe with probability 10/220.
    const { result, cluster } = run({ scheme: '2+1', afr: 1.5, repairHours: 0.02 * YEAR_H, peers: 12, stripes: 3, repair: 'exponential' });
    expectInside(markovModel(cluster).annualLoss, result.volumeCi95);
  });

  it('loses data when two of three zones are down at once, at the rate worked out by hand (2+1 over 3 zones)', () => {
    // One shard per zone: a zone loss costs every stripe one shard; a second zone lost within the repair time R
    // of the first costs them all. Cycles: healthy for Exp(3ζ), then degraded until repaired or a second zone is lost.
    const zeta = 2;
    const R = 0.01;
    const secondWithinR = 1 - Math.exp(-2 * zeta * R);
    const cycle = 1 / (3 * zeta) + secondWithinR / (2 * zeta);
    const expected = 1 - Math.exp(-secondWithinR / cycle);
    const { result } = run({ scheme: '2+1', afr: 0, peers: 6, zones: 3, zoneFailureRate: zeta, repairHours: R * YEAR_H, stripes: 1000 });
    expectInside(expected, result.volumeCi95);
  });

  it('counts zone losses on top of independent failures (4+2 over 3 zones, 2 shards per zone)', () => {
    const base = { scheme: '4+2', afr: 1, peers: 12, zones: 3, repairHours: 100, stripes: 1000, trials: 10_000 };
    const calm = run(base).result;
    const stormy = run({ ...base, zoneFailureRate: 0.5 }).result;
    expect(stormy.volumeCi95[0]).toBeGreaterThan(calm.volumeCi95[1]);
  });
});
