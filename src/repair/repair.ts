/**
 * Repair: every stripe back to n healthy shards. A shard is missing when its
 * slot is empty (the write was degraded), its store is gone (not in the
 * backend, or down longer than the grace period), the store says it does not
 * have it, or a reader or an audit found it damaged. Missing shards are
 * rebuilt from any k good ones, without keys, checked against their ids, and
 * put on stores that are up, in zones the stripe does not use yet; then the
 * volume commits the new locations.
 */
import { createHash } from 'node:crypto';
import type { ShardId } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';
import { ShardCorruptError } from '../store/index.js';
import { decodeDescriptor, rebuildShards, type StripeDescriptor } from '../stripe/index.js';
import type { Backend, BlockRef, Volume } from '../volume/index.js';

export interface RepairOptions {
  /** A store down for less than this is waited for, not rebuilt around (default 0). */
  graceMs?: number;
  /** Stripes checked at once (default 8). */
  concurrency?: number;
  onProgress?(done: number, total: number): void;
  /** Per-shard check timeout (default 5 s). */
  checkTimeoutMs?: number;
}

export interface RepairReport {
  stripes: number;
  /** Stripes that had fewer than n healthy shards. */
  degraded: number;
  /** Of those, stripes now back to n. */
  repaired: number;
  shardsRebuilt: number;
  /** Bytes read to rebuild plus bytes written. */
  bytesMoved: number;
  /** Stripes with fewer than k healthy shards: their data is not readable now. */
  unrecoverable: number;
  /** Stripes still short: a store within its grace period, or no store to put a shard on. */
  pending: number;
}

export class RepairError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('repair.failed', message, options);
  }
}

type Health = 'ok' | 'missing' | 'waiting';

async function slotHealth(backend: Backend, ref: BlockRef, d: StripeDescriptor, i: number, options: Required<Pick<RepairOptions, 'graceMs' | 'checkTimeoutMs'>>): Promise<Health> {
  const id = ref.stores[i];
  const store = id ? backend.store(id) : undefined;
  if (!store) return 'missing';
  if (!backend.isUp(id)) return backend.downForMs(id) >= options.graceMs ? 'missing' : 'waiting';
  const shard = d.shardIds[i];
  const signal = AbortSignal.timeout(options.checkTimeoutMs);
  try {
    if (backend.suspects.has(shard)) {
      // A reader saw this copy damaged: read it (the store checks the hash) rather than trust has().
      await store.get(shard, { signal });
      backend.suspects.delete(shard);
      return 'ok';
    }
    return (await store.has(shard, { signal })) ? 'ok' : 'missing';
  } catch (err) {
    if (err instanceof ShardCorruptError) {
      backend.suspects.delete(shard);
      await store.delete(shard).catch(() => undefined);
      return 'missing';
    }
    return backend.downForMs(id) >= options.graceMs ? 'missing' : 'waiting';
  }
}

/** Stores for the rebuilt shards: up, not holding another shard of this stripe, unused zones first, then a stable hash order. */
function targets(backend: Backend, ref: BlockRef, shard: ShardId, slot: number, taken: Set<string>): string[] {
  const zones = new Set([...taken].map((id) => backend.zoneOf(id)));
  const free = backend.stores.map((s) => s.id).filter((id) => !taken.has(id) && backend.isUp(id));
  const score = new Map(free.map((id) => [id, createHash('sha256').update(shard).update(id).digest().readUInt32BE(0)]));
  const previous = ref.stores[slot];
  return free.sort(
    (a, b) =>
      // The store that held this slot first (a bucket that came back), then new zones, then the hash.
      Number(b === previous) - Number(a === previous) ||
      Number(zones.has(backend.zoneOf(a))) - Number(zones.has(backend.zoneOf(b))) ||
      score.get(a)! - score.get(b)!,
  );
}

interface StripeOutcome {
  degraded: boolean;
  repaired: boolean;
  rebuilt: number;
  bytes: number;
  unrecoverable: boolean;
}

async function repairStripe(backend: Backend, ref: BlockRef, options: Required<Pick<RepairOptions, 'graceMs' | 'checkTimeoutMs'>>): Promise<StripeOutcome> {
  const d = decodeDescriptor(ref.descriptor);
  const n = d.k + d.m;
  const health = await Promise.all(Array.from({ length: n }, (_, i) => slotHealth(backend, ref, d, i, options)));
  const missing = health.flatMap((h, i) => (h === 'missing' ? [i] : []));
  const outcome: StripeOutcome = { degraded: health.some((h) => h !== 'ok'), repaired: false, rebuilt: 0, bytes: 0, unrecoverable: false };
  if (missing.length === 0) return outcome;
  const good = health.flatMap((h, i) => (h === 'ok' ? [i] : []));
  if (good.length < d.k) {
    outcome.unrecoverable = true;
    return outcome;
  }
  const taken = new Set(good.map((i) => ref.stores[i]));
  if (targets(backend, ref, d.shardIds[missing[0]], missing[0], taken).length === 0) return outcome;
  // Fetch k good shards (more if some fail) to rebuild from.
  const shards: (Uint8Array | null)[] = new Array(n).fill(null);
  let have = 0;
  for (const i of good) {
    if (have >= d.k) break;
    try {
      shards[i] = await backend.store(ref.stores[i])!.get(d.shardIds[i]);
      outcome.bytes += shards[i]!.length;
      have++;
    } catch {
      // Another good one may do.
    }
  }
  if (have < d.k) {
    outcome.unrecoverable = true;
    return outcome;
  }
  const rebuilt = rebuildShards(d, shards, missing);
  for (const i of missing) {
    const shard = rebuilt.get(i)!;
    for (const target of targets(backend, ref, d.shardIds[i], i, taken)) {
      try {
        await backend.store(target)!.put(d.shardIds[i], shard);
      } catch {
        continue;
      }
      ref.stores[i] = target;
      taken.add(target);
      outcome.rebuilt++;
      outcome.bytes += shard.length;
      break;
    }
  }
  outcome.repaired = outcome.rebuilt === missing.length && health.every((h) => h !== 'waiting');
  return outcome;
}

/**
 * Checks every stripe of a read-write volume and rebuilds what is missing,
 * then commits the new shard locations. Safe to run again at any time: a
 * healthy stripe costs n presence checks.
 */
export async function repairVolume(volume: Volume, options: RepairOptions = {}): Promise<RepairReport> {
  const settings = { graceMs: options.graceMs ?? 0, checkTimeoutMs: options.checkTimeoutMs ?? 5_000 };
  const stripes = volume.stripes();
  const report: RepairReport = { stripes: stripes.length, degraded: 0, repaired: 0, shardsRebuilt: 0, bytesMoved: 0, unrecoverable: 0, pending: 0 };
  const moved = new Set<number | null>();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < stripes.length) {
      const { ref, owner } = stripes[next++];
      const o = await repairStripe(volume.backend, ref, settings);
      if (o.degraded) report.degraded++;
      if (o.repaired) report.repaired++;
      if (o.unrecoverable) report.unrecoverable++;
      else if (o.degraded && !o.repaired) report.pending++;
      report.shardsRebuilt += o.rebuilt;
      report.bytesMoved += o.bytes;
      if (o.rebuilt > 0) moved.add(owner);
      options.onProgress?.(++done, stripes.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, Math.max(1, stripes.length)) }, worker));
  if (moved.size > 0) {
    volume.storesMoved(moved);
    try {
      await volume.commit();
    } catch (err) {
      throw new RepairError(`rebuilt ${report.shardsRebuilt} shards but could not commit their new locations: ${(err as Error).message}`, { cause: err });
    }
  }
  return report;
}
