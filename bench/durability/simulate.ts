/**
 * Monte Carlo of a cluster's year, event by event: peers fail at the AFR
 * (exponential waiting times), each failed peer's shards are restored a
 * repair time later, and whole zones may be lost at once. When a failure
 * leaves more than m failed peers, whether it killed a stripe is drawn from
 * the exact fraction of placements it kills (see placement.ts), given that
 * none had died before. Each trial is one year; the answer is the fraction
 * of years that lost data, with a Wilson 95% interval.
 */
import { HOURS_PER_YEAR } from './models.js';
import { newLossProbability, zoneCap, zoneLossFraction } from './placement.js';
import { Random } from './random.js';
import type { Scheme } from './scheme.js';
import { wilson } from './stats.js';

export interface SimulationParams {
  scheme: Scheme;
  /** Failures per peer per year. */
  afr: number;
  repairHours: number;
  peers: number;
  /** Peers are spread evenly over this many zones; a stripe keeps at most zoneCap shards in one zone. */
  zones: number;
  /** Whole-zone losses per zone per year (every peer of the zone fails at once). */
  zoneFailureRate: number;
  stripes: number;
  /** Simulated years. */
  trials: number;
  seed: number;
  /**
   * 'fixed' (default): a repair takes exactly the repair time, as a rebuild
   * of known size does. 'exponential': memoryless repairs, the Markov
   * chain's assumption, under which the chain is exact (the tests use it).
   */
  repair?: 'fixed' | 'exponential';
  onProgress?: (done: number, total: number) => void;
}

export interface SimulationResult {
  trials: number;
  /** Years in which one given stripe was lost. */
  stripeLosses: number;
  /** Years in which at least one stripe of the volume was lost. */
  volumeLosses: number;
  stripeCi95: [number, number];
  volumeCi95: [number, number];
}

const PROGRESS_EVERY = 1 << 16;

export function zoneSizes(peers: number, zones: number): number[] {
  return Array.from({ length: zones }, (_, z) => Math.floor(peers / zones) + (z < peers % zones ? 1 : 0));
}

export function simulate(p: SimulationParams): SimulationResult {
  const { n, m } = p.scheme;
  const rng = new Random(p.seed);
  const sizes = zoneSizes(p.peers, p.zones);
  const cap = zoneCap(sizes, n);
  const repairYears = p.repairHours / HOURS_PER_YEAR;
  const exponentialRepair = p.repair === 'exponential';
  const zoneRate = p.zoneFailureRate * p.zones;

  // Fraction of placements with more than m shards on failed peers, by failed count per zone.
  const cache = new Map<string, number>();
  const failedPerZone = new Int32Array(p.zones);
  const deadFraction = (): number => {
    const key = failedPerZone.join(',');
    let q = cache.get(key);
    if (q === undefined) {
      q = zoneLossFraction(
        sizes.map((size, z) => ({ size, failed: failedPerZone[z] })),
        n,
        m + 1,
        cap,
      );
      cache.set(key, q);
    }
    return q;
  };

  // Failed peers not yet restored: when each is restored, and its zone.
  const due = new Float64Array(p.peers);
  const zoneOf = new Int32Array(p.peers);
  let failed = 0;
  const fail = (z: number, now: number) => {
    due[failed] = now + (exponentialRepair ? rng.exponential(1 / repairYears) : repairYears);
    zoneOf[failed] = z;
    failed++;
    failedPerZone[z]++;
  };

  let stripeLosses = 0;
  let volumeLosses = 0;
  for (let trial = 0; trial < p.trials; trial++) {
    if (p.onProgress && trial % PROGRESS_EVERY === 0) p.onProgress(trial, p.trials);
    failed = 0;
    failedPerZone.fill(0);
    let stripeLost = false;
    let volumeLost = false;
    let t = 0;
    while (true) {
      const up = p.peers - failed;
      const nextFailure = up > 0 && p.afr > 0 ? t + rng.exponential(up * p.afr) : Infinity;
      const nextZone = zoneRate > 0 ? t + rng.exponential(zoneRate) : Infinity;
      let nextRepair = Infinity;
      let repaired = -1;
      for (let i = 0; i < failed; i++) {
        if (due[i] < nextRepair) {
          nextRepair = due[i];
          repaired = i;
        }
      }
      t = Math.min(nextFailure, nextZone, nextRepair);
      if (t > 1) break;
      if (t === nextRepair) {
        failedPerZone[zoneOf[repaired]]--;
        failed--;
        due[repaired] = due[failed];
        zoneOf[repaired] = zoneOf[failed];
        continue;
      }
      const before = failed > m ? deadFraction() : 0;
      if (t === nextFailure) {
        let r = rng.below(up);
        let z = 0;
        while (r >= sizes[z] - failedPerZone[z]) {
          r -= sizes[z] - failedPerZone[z];
          z++;
        }
        fail(z, t);
      } else {
        const z = rng.below(p.zones);
        for (let left = sizes[z] - failedPerZone[z]; left > 0; left--) fail(z, t);
      }
      if (failed <= m) continue;
      const after = deadFraction();
      if (after === before) continue;
      // One draw for both: the given stripe is one of the volume's, so its loss implies the volume's.
      const u = rng.uniform();
      if (!stripeLost && u < newLossProbability(before, after, 1)) {
        stripeLost = true;
        stripeLosses++;
      }
      if (!volumeLost && u < newLossProbability(before, after, p.stripes)) {
        volumeLost = true;
        volumeLosses++;
      }
      if (stripeLost) break;
    }
  }
  p.onProgress?.(p.trials, p.trials);
  return {
    trials: p.trials,
    stripeLosses,
    volumeLosses,
    stripeCi95: wilson(stripeLosses, p.trials),
    volumeCi95: wilson(volumeLosses, p.trials),
  };
}
