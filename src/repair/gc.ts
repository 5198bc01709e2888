/**
 * Garbage collection of shards no committed head references: the shards of
 * a commit that crashed between storing its stripes and its head. A commit
 * deletes what it supersedes itself; this finds the rest.
 *
 * Two passes, a grace period apart, and no store-side clocks: a pass lists
 * every shard of the backend's stores and subtracts every shard referenced
 * by the current head of every volume on that backend. What is left becomes
 * a candidate, remembered on this machine with the time it was first seen.
 * A later pass deletes a candidate only if it was first seen at least
 * `graceMs` ago and is still unreferenced. A writer's stripes are stored
 * moments before its head, so by the next pass its head references them;
 * a shard a committed head references is never deleted.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../cluster/home.js';
import { CairnError } from '../errors/index.js';
import type { ShardStore } from '../store/index.js';
import { decodeDescriptor } from '../stripe/index.js';
import type { Volume } from '../volume/index.js';

export interface GcOptions {
  /** Where candidates are remembered between passes. */
  statePath: string;
  /** How long a shard must stay unreferenced before it is deleted (default 1 h). */
  graceMs?: number;
  /** Report only: delete nothing, remember nothing. */
  dryRun?: boolean;
  now?: number;
}

export interface GcReport {
  stores: number;
  shards: number;
  referenced: number;
  /** Unreferenced now, not yet old enough to delete. */
  candidates: number;
  deleted: number;
  /** Deletes that failed (the store was unreachable); retried next time. */
  failed: number;
}

export class GcError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('repair.gc', message, options);
  }
}

type State = Record<string, Record<string, number>>;

async function readState(path: string): Promise<State> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as State;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new GcError(`cannot read the gc state ${path}: ${(err as Error).message}; remove it to start over`, { cause: err });
  }
}

async function listAll(store: ShardStore): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  do {
    const page = await store.list({ after, limit: 1000 });
    ids.push(...page.ids);
    after = page.next;
  } while (after);
  return ids;
}

/**
 * One pass over `stores`, which hold the shards of exactly `volumes` (every
 * volume on that backend, opened read-only at their current heads).
 */
export async function collectGarbage(stores: readonly ShardStore[], volumes: readonly Volume[], options: GcOptions): Promise<GcReport> {
  const now = options.now ?? Date.now();
  const grace = options.graceMs ?? 3_600_000;
  const referenced = new Set<string>();
  for (const v of volumes) {
    for (const { ref } of v.stripes()) for (const id of decodeDescriptor(ref.descriptor).shardIds) referenced.add(id);
  }
  const previous = await readState(options.statePath);
  const next: State = {};
  const report: GcReport = { stores: stores.length, shards: 0, referenced: referenced.size, candidates: 0, deleted: 0, failed: 0 };
  for (const store of stores) {
    let ids: string[];
    try {
      ids = await listAll(store);
    } catch {
      // A store we cannot list keeps its candidates for the next pass; never a reason to delete elsewhere.
      next[store.id] = previous[store.id] ?? {};
      report.failed++;
      continue;
    }
    report.shards += ids.length;
    const seen = previous[store.id] ?? {};
    const kept: Record<string, number> = {};
    for (const id of ids) {
      if (referenced.has(id)) continue;
      const since = seen[id] ?? now;
      if (!options.dryRun && now - since >= grace) {
        try {
          await store.delete(id);
          report.deleted++;
          continue;
        } catch {
          report.failed++;
        }
      }
      kept[id] = since;
      report.candidates++;
    }
    next[store.id] = kept;
  }
  if (!options.dryRun) {
    await mkdir(dirname(options.statePath), { recursive: true, mode: 0o700 });
    await writeFileAtomic(options.statePath, new TextEncoder().encode(JSON.stringify(next)));
  }
  return report;
}
