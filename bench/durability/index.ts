/**
 * `cairn bench durability`: for each redundancy scheme, the annual
 * probability of losing a stripe and a whole volume by Backblaze's period
 * model and by the Markov chain with repair, checked by a seeded Monte Carlo
 * of the same cluster, plus storage overhead and the repair traffic of one
 * failed peer. bench/README.md gives the formulas and their sources.
 */
import { type Cluster, markovModel, oneStripe, periodModel } from './models.js';
import { streamSeed } from './random.js';
import { type Scheme, overhead } from './scheme.js';
import { simulate } from './simulate.js';
import { nines } from './stats.js';

export { renderChart } from './chart.js';
export { DEFAULT_INPUTS, type DurabilityFlags, parseDurabilityFlags, parseNumber, parseSeed } from './inputs.js';
export { LIVE_DEFAULTS, LiveRunError, MAX_LIVE_PEERS, liveMisfit, liveSchemes, liveSteps, runLive } from './live.js';
export { printLive, printReport } from './report.js';
export { DEFAULT_SCHEMES, parseScheme, type Scheme } from './scheme.js';

export interface DurabilityInputs {
  schemes: Scheme[];
  /** Failures per peer per year. */
  afr: number;
  repairHours: number;
  peers: number;
  zones: number;
  zoneFailureRate: number;
  volumeSize: number;
  /** Data bytes per stripe (a volume block). */
  blockSize: number;
  /** Simulated years per scheme. */
  trials: number;
  seed: number;
  targetNines: number;
}

/** One fault of a live run and the repair after it. */
export interface LiveEvent {
  /** What was done, e.g. "kill -9 2 peers at once". */
  event: string;
  /** The peers it was done to (first 16 hex characters of their keys). */
  peers: string[];
  /** Peers down or stalled right after the fault. */
  peers_down: number;
  /** From the fault to a repair pass that found every stripe back to n shards; null if MAX passes did not get there. */
  seconds_to_full_redundancy: number | null;
  repair_passes: number;
  /** Stripes short of n shards in the first repair pass. */
  degraded: number;
  shards_rebuilt: number;
  /** Bytes repair read to rebuild plus bytes it wrote. */
  bytes_moved: number;
  /** Events that read the dataset while faulted (stall, past m): bytes that could not be read then. */
  bytes_unreadable?: number;
  /** Bytes that read back different from what was written (must always be 0). */
  bytes_wrong?: number;
  /** Corruption: shard files with a flipped byte, and how many of them scrub found. */
  shards_corrupted?: number;
  scrub_found?: number;
  /** Why something could not be read or repaired. */
  note?: string;
}

/**
 * What a live run (real peers killed while repair runs) adds to a scheme's
 * row; absent when the row is only modelled and simulated.
 */
export interface LiveFigures {
  peers: number;
  dataset_bytes: number;
  files: number;
  /** Seconds from each fault to full redundancy again, in event order (null: not reached). */
  seconds_to_full_redundancy: (number | null)[];
  /** All bytes repair moved over the seconds of the repair passes that moved any. */
  repair_MBps: number;
  /** Read back as written through a read-only mount after the last event. */
  bytes_verified: number;
  /** dataset_bytes - bytes_verified. */
  bytes_lost: number;
  /** Of the lost, those that read back wrong rather than failing. */
  bytes_wrong: number;
  events: LiveEvent[];
}

/** Which schemes ran live, which did not and why. */
export interface LiveSummary {
  peers: number;
  size: number;
  beyond_m: boolean;
  schemes: string[];
  not_run: { scheme: string; why: string }[];
}

/** Loss figures are annual probabilities; "volume" means at least one of its stripes lost. */
export interface DurabilityRow {
  scheme: string;
  k: number;
  m: number;
  overhead: number;
  annual_loss_period: number;
  annual_loss_markov: number;
  annual_loss_simulated: number;
  ci95: [number, number];
  /** -log10 of the loss; null when the loss is 0 (too small for a double, or none simulated). */
  nines_period: number | null;
  nines_markov: number | null;
  nines_simulated: number | null;
  stripe_annual_loss_period: number;
  stripe_annual_loss_markov: number;
  stripe_annual_loss_simulated: number;
  stripe_ci95: [number, number];
  stripe_nines_period: number | null;
  stripe_nines_markov: number | null;
  mttdl_years: number;
  stripe_mttdl_years: number;
  /** Stored bytes per peer, all rewritten when the peer is lost. */
  peer_bytes: number;
  /** Bytes read to rebuild one failed peer's shards: k shards per lost shard (1 copy for replication). */
  repair_read_bytes: number;
  /** Read rate the cluster needs to finish that rebuild within the repair time. */
  repair_read_MBps: number;
  simulated_trials: number;
  simulated_losses: number;
  live?: LiveFigures;
}

export interface DurabilityAnswer {
  target_nines: number;
  /** Cheapest scheme whose whole-volume nines by the worse of the two models reach the target; null if none. */
  scheme: string | null;
  overhead: number | null;
  nines: number | null;
}

export interface DurabilityReport {
  bench: 'durability';
  inputs: {
    schemes: string[];
    afr: number;
    repair_hours: number;
    peers: number;
    zones: number;
    zone_failure_rate: number;
    volume_size: number;
    block_size: number;
    stripes: number;
    trials: number;
    seed: number;
    target_nines: number;
  };
  results: DurabilityRow[];
  answer: DurabilityAnswer;
  live?: LiveSummary;
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** The nines a row can be trusted for: the worse of the two models, for the whole volume. */
export function modelNines(row: DurabilityRow): number {
  return Math.min(row.nines_period ?? Infinity, row.nines_markov ?? Infinity);
}

export function answer(rows: readonly DurabilityRow[], targetNines: number): DurabilityAnswer {
  const best = rows
    .filter((r) => modelNines(r) >= targetNines)
    .sort((a, b) => a.overhead - b.overhead || modelNines(b) - modelNines(a))[0];
  return {
    target_nines: targetNines,
    scheme: best?.scheme ?? null,
    overhead: best?.overhead ?? null,
    nines: best ? finite(modelNines(best)) : null,
  };
}

export function benchDurability(
  inputs: DurabilityInputs,
  onProgress?: (done: number, total: number, label: string) => void,
): DurabilityReport {
  const stripes = Math.ceil(inputs.volumeSize / inputs.blockSize);
  const results = inputs.schemes.map((scheme, i): DurabilityRow => {
    const cluster: Cluster = {
      n: scheme.n,
      m: scheme.m,
      afr: inputs.afr,
      repairHours: inputs.repairHours,
      peers: inputs.peers,
      stripes,
    };
    const period = periodModel(cluster);
    const markov = markovModel(cluster);
    const stripePeriod = periodModel(oneStripe(cluster));
    const stripeMarkov = markovModel(oneStripe(cluster));
    const sim = simulate({
      scheme,
      afr: inputs.afr,
      repairHours: inputs.repairHours,
      peers: inputs.peers,
      zones: inputs.zones,
      zoneFailureRate: inputs.zoneFailureRate,
      stripes,
      trials: inputs.trials,
      seed: streamSeed(inputs.seed, scheme.label),
      onProgress:
        onProgress &&
        ((done, total) => onProgress(i * total + done, inputs.schemes.length * total, `simulating ${scheme.label}`)),
    });
    const simulated = sim.volumeLosses / sim.trials;
    const storedBytes = stripes * scheme.n * Math.ceil(inputs.blockSize / scheme.k);
    const peerBytes = storedBytes / inputs.peers;
    const repairReadBytes = scheme.k * peerBytes;
    return {
      scheme: scheme.label,
      k: scheme.k,
      m: scheme.m,
      overhead: overhead(scheme),
      annual_loss_period: period.annualLoss,
      annual_loss_markov: markov.annualLoss,
      annual_loss_simulated: simulated,
      ci95: sim.volumeCi95,
      nines_period: finite(nines(period.annualLoss)),
      nines_markov: finite(nines(markov.annualLoss)),
      nines_simulated: finite(nines(simulated)),
      stripe_annual_loss_period: stripePeriod.annualLoss,
      stripe_annual_loss_markov: stripeMarkov.annualLoss,
      stripe_annual_loss_simulated: sim.stripeLosses / sim.trials,
      stripe_ci95: sim.stripeCi95,
      stripe_nines_period: finite(nines(stripePeriod.annualLoss)),
      stripe_nines_markov: finite(nines(stripeMarkov.annualLoss)),
      mttdl_years: markov.mttdlYears,
      stripe_mttdl_years: stripeMarkov.mttdlYears,
      peer_bytes: Math.round(peerBytes),
      repair_read_bytes: Math.round(repairReadBytes),
      repair_read_MBps: repairReadBytes / (inputs.repairHours * 3600) / 1e6,
      simulated_trials: sim.trials,
      simulated_losses: sim.volumeLosses,
    };
  });
  return {
    bench: 'durability',
    inputs: {
      schemes: inputs.schemes.map((s) => s.label),
      afr: inputs.afr,
      repair_hours: inputs.repairHours,
      peers: inputs.peers,
      zones: inputs.zones,
      zone_failure_rate: inputs.zoneFailureRate,
      volume_size: inputs.volumeSize,
      block_size: inputs.blockSize,
      stripes,
      trials: inputs.trials,
      seed: inputs.seed,
      target_nines: inputs.targetNines,
    },
    results,
    answer: answer(results, inputs.targetNines),
  };
}
