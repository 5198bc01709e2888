/**
 * `cairn bench durability --live`: for one scheme, a volume on a throwaway
 * `cairn dev up` cluster gets a dataset of known SHA-256, then a schedule of
 * faults (kill -9, restart, corrupted shards, a stalled peer, m peers killed
 * at once; optionally m + 1), each followed by `cairn repair` until every
 * stripe is back to n shards, and at the end every byte is read back.
 * bench/README.md, "Live fault injection", describes the schedule.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CairnError, UsageError } from '../../src/errors/index.js';
import type { RepairReport, ScrubReport } from '../../src/repair/index.js';
import type { Child } from '../procs.js';
import type { LiveEvent, LiveFigures } from './index.js';
import { type Dataset, type Verification, verifyDataset, writeDataset } from './live-dataset.js';
import { LiveCluster, type LivePeer, VOLUME } from './live-cluster.js';
import { Random, streamSeed } from './random.js';
import type { Scheme } from './scheme.js';

export const LIVE_DEFAULTS = { peers: 8, size: 64 * 2 ** 20 } as const;
/** Each peer is a process on this machine. */
export const MAX_LIVE_PEERS = 32;

export interface LiveOptions {
  peers: number;
  size: number;
  /** Add an event past the code's tolerance: m + 1 peers killed at once. */
  beyondM: boolean;
  seed: number;
  signal: AbortSignal;
  onProgress?: (label: string) => void;
}

/** Passes of `cairn repair` after one event before it counts as not back to full redundancy. */
const MAX_REPAIR_PASSES = 8;
/** Shard files damaged in the corruption event. */
const CORRUPT_SHARDS = 3;
/** A read through the mount that takes longer is cut off (the mount killed), its bytes unreadable. */
const VERIFY_TIMEOUT_MS = 10 * 60_000;

/** A live run that could not finish; by then its processes, mounts and temp directory are gone. */
export class LiveRunError extends CairnError {
  constructor(scheme: string, why: string, options?: ErrorOptions) {
    super('bench.live', `the live run of ${scheme} failed: ${why} (its cluster, mounts and temp directory were removed)`, options);
  }
}

/** Why a scheme cannot run live on `peers` peers, or null if it can. */
export function liveMisfit(scheme: Scheme, peers: number): string | null {
  if (scheme.m === 0) return 'm = 0: losing any peer loses data, so there is no fault to survive';
  if (scheme.n + scheme.m > peers) {
    return `n + m = ${scheme.n + scheme.m} > ${peers} peers (with m killed, n must still be up to repair onto); raise --live-peers`;
  }
  return null;
}

/** The schemes that run live and why the others do not; refuses when none can. */
export function liveSchemes(schemes: readonly Scheme[], peers: number): { run: Scheme[]; notRun: { scheme: string; why: string }[] } {
  if (peers > MAX_LIVE_PEERS) throw new UsageError(`--live-peers ${peers} is more than ${MAX_LIVE_PEERS} (each peer is a process on this machine)`);
  const run = schemes.filter((s) => liveMisfit(s, peers) === null);
  const notRun = schemes.flatMap((s) => {
    const why = liveMisfit(s, peers);
    return why === null ? [] : [{ scheme: s.label, why }];
  });
  if (run.length === 0) {
    throw new UsageError(
      `--live: no scheme can run on ${peers} peers (${notRun.map((n) => `${n.scheme}: ${n.why}`).join('; ')}); ` +
        'raise --live-peers or add a narrower --scheme',
    );
  }
  return { run, notRun };
}

/** Events in the schedule (for progress). */
export function liveSteps(beyondM: boolean): number {
  return 6 + (beyondM ? 1 : 0) + 3;
}

const seconds = (since: number) => Math.round((performance.now() - since) / 10) / 100;
const lastLine = (text: string) => text.trim().split('\n').pop() ?? '';

export async function runLive(scheme: Scheme, options: LiveOptions): Promise<LiveFigures> {
  const { signal } = options;
  const progress = (label: string) => options.onProgress?.(`${scheme.label}: ${label}`);
  const cluster = new LiveCluster(signal);
  try {
    return await playScheme(scheme, options, cluster, progress);
  } catch (err) {
    if (signal.aborted) throw err;
    throw new LiveRunError(scheme.label, (err as Error).message, { cause: err });
  } finally {
    await cluster.close();
  }
}

async function playScheme(scheme: Scheme, options: LiveOptions, cluster: LiveCluster, progress: (label: string) => void): Promise<LiveFigures> {
  progress(`cairn dev up --peers ${options.peers}`);
  await cluster.up(options.peers);
  await cluster.cairn(['volume', 'create', VOLUME, '--backend', 'peers', '--code', `${scheme.k}+${scheme.m}`]);
  progress('writing the dataset');
  const dataset = await writeThroughMount(cluster, options);
  const schedule = new Schedule(cluster, dataset, new Random(streamSeed(options.seed, `live ${scheme.label}`)), options.signal);
  await schedule.play(scheme.m, options.beyondM, progress);
  progress('reading back every byte');
  const final = await readThroughMount(cluster, dataset);
  const { events, moved } = schedule;
  return {
    peers: options.peers,
    dataset_bytes: dataset.bytes,
    files: dataset.files.length,
    seconds_to_full_redundancy: events.map((e) => e.seconds_to_full_redundancy),
    repair_MBps: moved.seconds > 0 ? Math.round((moved.bytes / moved.seconds / 1e6) * 10) / 10 : 0,
    bytes_verified: final.verified,
    bytes_lost: dataset.bytes - final.verified,
    bytes_wrong: final.wrong,
    events,
  };
}

/** Seeded files copied into a read-write mount with cp, each made durable with sync, then unmounted (a commit). */
async function writeThroughMount(cluster: LiveCluster, options: LiveOptions): Promise<Dataset> {
  const source = join(cluster.root, 'source');
  mkdirSync(source);
  const dataset = await writeDataset(source, options.size, options.seed);
  const mount = await cluster.mount(false);
  try {
    for (const f of dataset.files) {
      await cluster.run('cp', [join(source, f.name), join(cluster.mountDir, f.name)]);
      await cluster.run('sync', [join(cluster.mountDir, f.name)]);
    }
  } finally {
    await cluster.unmount(mount);
  }
  if (mount.exitCode !== 0) throw new Error(`the write mount did not commit and unmount cleanly: ${lastLine(mount.out())}`);
  return dataset;
}

/** Reads the dataset through a fresh read-only mount; if the volume cannot even be opened, every byte is unreadable. */
async function readThroughMount(cluster: LiveCluster, dataset: Dataset): Promise<Verification & { error?: string }> {
  let mount: Child;
  try {
    mount = await cluster.mount(true);
  } catch (err) {
    if (cluster.aborted) throw err;
    return { verified: 0, unreadable: dataset.bytes, wrong: 0, error: `the volume could not be mounted: ${(err as Error).message}` };
  }
  const timer = setTimeout(() => void mount.stop('SIGKILL', 0), VERIFY_TIMEOUT_MS);
  try {
    return await verifyDataset(cluster.mountDir, dataset);
  } finally {
    clearTimeout(timer);
    await cluster.unmount(mount);
  }
}

interface RepairOutcome {
  seconds: number | null;
  passes: number;
  degraded: number;
  rebuilt: number;
  moved: number;
  error?: string;
}

class Schedule {
  readonly events: LiveEvent[] = [];
  /** Bytes moved by repair passes, and the seconds of the passes that moved them. */
  readonly moved = { bytes: 0, seconds: 0 };
  readonly #cluster: LiveCluster;
  readonly #dataset: Dataset;
  readonly #random: Random;
  readonly #signal: AbortSignal;

  constructor(cluster: LiveCluster, dataset: Dataset, random: Random, signal: AbortSignal) {
    this.#cluster = cluster;
    this.#dataset = dataset;
    this.#random = random;
    this.#signal = signal;
  }

  /**
   * Never more than m peers down at once: a killed peer comes back before
   * the next kill, so that with m down n are still up to repair onto.
   */
  async play(m: number, beyondM: boolean, progress: (label: string) => void): Promise<void> {
    const peers = (n: number) => `${n} peer${n === 1 ? '' : 's'}`;
    const [first] = await this.#pick(1);
    progress('kill -9 one peer');
    await this.#event('kill -9 1 peer', [first], 1, () => this.#cluster.kill([first]).then(() => ({})));
    progress('restart it');
    await this.#event('restart it', [first], 0, () => this.#cluster.restart([first]).then(() => ({})));

    const [rotted] = await this.#pick(1);
    progress('corrupt shards');
    await this.#event(`corrupt ${CORRUPT_SHARDS} shards, scrub`, [rotted], 0, async () => {
      const flipped = await this.#cluster.corrupt(rotted, CORRUPT_SHARDS, this.#random);
      const scrub = JSON.parse((await this.#cluster.cairn(['scrub', VOLUME, '--json'])).stdout) as ScrubReport;
      const store = `peer:${rotted.key}`;
      const found = new Set([
        ...scrub.peers.filter((p) => p.store === store).flatMap((p) => p.bad),
        ...scrub.auditFailures.filter((f) => f.store === store).map((f) => f.shard),
      ]);
      return { shards_corrupted: flipped.length, scrub_found: flipped.filter((id) => found.has(id)).length };
    });

    const [stalled] = await this.#pick(1, [rotted]);
    progress('stall a peer');
    await this.#event('stall 1 peer, read all', [stalled], 1, async () => {
      this.#cluster.stall(stalled);
      try {
        return this.#read(await readThroughMount(this.#cluster, this.#dataset));
      } finally {
        this.#cluster.resume(stalled);
      }
    });

    const many = await this.#pick(m);
    progress(`kill -9 m = ${peers(m)} at once`);
    await this.#event(`kill -9 m = ${peers(m)} at once`, many, m, () => this.#cluster.kill(many).then(() => ({})));
    progress('restart them');
    await this.#event('restart them', many, 0, () => this.#cluster.restart(many).then(() => ({})));

    if (beyondM) {
      const past = await this.#pick(m + 1);
      progress(`kill -9 m + 1 = ${peers(m + 1)}`);
      await this.#event(`kill -9 m + 1 = ${peers(m + 1)}, read all, restart`, past, m + 1, async () => {
        await this.#cluster.kill(past);
        const read = this.#read(await readThroughMount(this.#cluster, this.#dataset));
        await this.#cluster.restart(past);
        return read;
      });
    }
  }

  #read(v: Verification & { error?: string }): Partial<LiveEvent> {
    return { bytes_unreadable: v.unreadable, bytes_wrong: v.wrong, ...(v.error ? { note: v.error } : {}) };
  }

  /**
   * Peers to fault: up, not in `avoid`, never killed before (a restarted
   * peer holds little the volume still refers to), most shards first.
   */
  async #pick(count: number, avoid: LivePeer[] = []): Promise<LivePeer[]> {
    const shards = await this.#cluster.shardCounts();
    const rank = (p: LivePeer) => [Number(avoid.includes(p)), Number(p.killedBefore), -(shards.get(p.key) ?? 0)];
    const up = this.#cluster.peers.filter((p) => p.state === 'up');
    const order = up.map((p) => ({ p, r: rank(p) })).sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.r[2] - b.r[2]);
    if (order.length < count) throw new Error(`only ${order.length} peers are up, ${count} needed for the next event`);
    return order.slice(0, count).map((o) => o.p);
  }

  /** Runs a fault, then repair until full redundancy, timed from the fault. */
  async #event(name: string, peers: LivePeer[], down: number, fault: () => Promise<Partial<LiveEvent>>): Promise<void> {
    const since = performance.now();
    const extra = await fault();
    const repair = await this.#repairUntilFull(since);
    this.events.push({
      event: name,
      peers: peers.map((p) => p.key),
      peers_down: down,
      seconds_to_full_redundancy: repair.seconds,
      repair_passes: repair.passes,
      degraded: repair.degraded,
      shards_rebuilt: repair.rebuilt,
      bytes_moved: repair.moved,
      ...extra,
      ...(repair.error ? { note: [extra.note, repair.error].filter(Boolean).join('; ') } : {}),
    });
  }

  /** `cairn repair --json` until a pass finds nothing pending and nothing unrecoverable, at most MAX_REPAIR_PASSES. */
  async #repairUntilFull(since: number): Promise<RepairOutcome> {
    const outcome: RepairOutcome = { seconds: null, passes: 0, degraded: 0, rebuilt: 0, moved: 0 };
    while (outcome.passes < MAX_REPAIR_PASSES) {
      outcome.passes++;
      // Exit 1 with a report means unrecoverable stripes, which a later pass may still find readable.
      const r = await this.#cluster.cairn(['repair', VOLUME, '--json'], { check: false });
      let report: RepairReport | undefined;
      try {
        report = JSON.parse(r.stdout) as RepairReport;
      } catch {
        outcome.error = `repair pass ${outcome.passes}: ${lastLine(r.stderr) || `exit ${r.code}`}`;
      }
      if (report) {
        if (outcome.passes === 1) outcome.degraded = report.degraded;
        outcome.rebuilt += report.shardsRebuilt;
        outcome.moved += report.bytesMoved;
        if (report.bytesMoved > 0) {
          this.moved.bytes += report.bytesMoved;
          this.moved.seconds += r.seconds;
        }
        if (report.pending === 0 && report.unrecoverable === 0) {
          outcome.seconds = seconds(since);
          delete outcome.error;
          return outcome;
        }
        outcome.error = `after ${outcome.passes} passes: ${report.pending} stripes pending, ${report.unrecoverable} unrecoverable`;
      }
      await sleep(1000, undefined, { signal: this.#signal });
    }
    return outcome;
  }
}
