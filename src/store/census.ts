import { lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isShardId } from '../crypto/index.js';
import { ifMissing, readdirIfPresent, tempOwner } from './fsio.js';
import type { Counts } from './usage.js';

/** A shard directory whose mtime is this recent may still change within the same timestamp tick. */
const SETTLE_NS = 2_000_000_000n;

/** Shards live in `<first 2 hex of the id>/` directories. */
export function isPrefixDir(name: string): boolean {
  return /^[0-9a-f]{2}$/.test(name);
}

interface Entry extends Counts {
  mtimeNs: bigint;
  /** False while the mtime is too recent to prove that nothing changed since the scan. */
  settled: boolean;
}

/**
 * Counts the shards under `<dir>/shards/` as they are on disk, whichever
 * process put them. A directory's mtime changes whenever a file is added,
 * renamed in or removed, so only directories whose mtime moved are read
 * again. File systems stamp times at a coarse tick (ext4: a few ms), so a
 * directory changed within the last two seconds is read again every time
 * rather than trusted (as git does with its index).
 */
export class ShardCensus {
  readonly #root: string;
  readonly #entries = new Map<string, Entry>();

  constructor(root: string) {
    this.#root = root;
  }

  /** The counts now, and the temp files seen in directories read this time (for sweeping after a crash). */
  async count(): Promise<{ counts: Counts; temps: { dir: string; names: string[] }[] }> {
    const now = BigInt(Date.now()) * 1_000_000n;
    const prefixes = (await readdirIfPresent(this.#root)).filter(isPrefixDir);
    for (const gone of this.#entries.keys()) if (!prefixes.includes(gone)) this.#entries.delete(gone);
    const temps: { dir: string; names: string[] }[] = [];
    await Promise.all(
      prefixes.map(async (prefix) => {
        const dir = join(this.#root, prefix);
        const before = await stat(dir, { bigint: true }).catch(ifMissing);
        if (before === undefined) return void this.#entries.delete(prefix);
        const known = this.#entries.get(prefix);
        if (known?.settled && known.mtimeNs === before.mtimeNs) return;
        const { counts, tempNames } = await scan(dir, prefix);
        // The mtime read before the scan: a change during it moves the mtime, so the next count reads it again.
        this.#entries.set(prefix, { ...counts, mtimeNs: before.mtimeNs, settled: now - before.mtimeNs > SETTLE_NS });
        if (tempNames.length > 0) temps.push({ dir, names: tempNames });
      }),
    );
    const counts = { used: 0, shards: 0 };
    for (const entry of this.#entries.values()) {
      counts.used += entry.used;
      counts.shards += entry.shards;
    }
    return { counts, temps };
  }
}

async function scan(dir: string, prefix: string): Promise<{ counts: Counts; tempNames: string[] }> {
  const names = await readdirIfPresent(dir);
  const counts = { used: 0, shards: 0 };
  const sizes = await Promise.all(
    names
      .filter((name) => isShardId(name) && name.startsWith(prefix))
      .map((name) => lstat(join(dir, name)).catch(ifMissing)),
  );
  for (const info of sizes) {
    if (info?.isFile()) {
      counts.used += info.size;
      counts.shards++;
    }
  }
  return { counts, tempNames: names.filter((name) => tempOwner(name) !== undefined) };
}
