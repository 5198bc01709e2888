/**
 * Pack files: many shards of one store in one file, written by a single
 * synced write (docs/STORES.md, "Packs"; byte layout in docs/FORMAT.md).
 * A new file costs this machine's ext4 about 250 µs of CPU (an inode, its
 * own extents, a synced directory entry, each an I/O the VM's host must
 * take), more than the 256 KiB shard in it; a commit's shards for a store in
 * one file cost a tenth of that. Packs are immutable: a shard deleted from
 * one is listed in the pack's `.dead` file, and a pack goes once most of it
 * is dead (its live shards become plain shard files first).
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SHARD_ID_BYTES, type ShardId } from '../crypto/index.js';
import { errorCode, ifMissing, readdirIfPresent, replaceFile, syncDir } from './fsio.js';
import type { Counts } from './usage.js';

const MAGIC = Buffer.from('CAIRNPK', 'latin1');
export const PACK_VERSION = 1;
const HEAD_BYTES = MAGIC.length + 1 + 4;
const ENTRY_BYTES = SHARD_ID_BYTES + 4;
const SUM_BYTES = 32;
/** Far more than a commit puts in one (a few dozen); bounds what a damaged count can make a reader allocate. */
export const MAX_PACK_SHARDS = 65_536;
const PACK_NAME = /^([0-9a-f]{16})\.pack$/;

/** Where a writer on another thread puts a pack for a store: its `packs/` directory. */
export interface PackTarget {
  dir: string;
  /** As FileStore's `sync`: on disk before the write resolves. */
  sync: boolean;
}

/** A pack just written: its name and, in order, its shards' ids and lengths. */
export interface WrittenPack {
  name: string;
  ids: ShardId[];
  lengths: number[];
}

/** Part of a file: a packed shard, for a reader that reads files itself (stripe/sources.ts). */
export interface FileRange {
  path: string;
  offset: number;
  length: number;
}

/** A pack file whose index is damaged, cut short or of another version: its shards are unreadable here. */
export class PackDamagedError extends Error {}

/** The header and index that start a pack holding `shards` (docs/FORMAT.md). */
export function packIndex(shards: readonly { id: ShardId; bytes: Uint8Array }[]): Buffer {
  const index = Buffer.alloc(HEAD_BYTES + shards.length * ENTRY_BYTES + SUM_BYTES);
  MAGIC.copy(index, 0);
  index[MAGIC.length] = PACK_VERSION;
  index.writeUInt32LE(shards.length, MAGIC.length + 1);
  shards.forEach(({ id, bytes }, i) => {
    const at = HEAD_BYTES + i * ENTRY_BYTES;
    index.write(id, at, 'hex');
    index.writeUInt32LE(bytes.length, at + SHARD_ID_BYTES);
  });
  const summed = index.length - SUM_BYTES;
  createHash('sha256').update(index.subarray(0, summed)).digest().copy(index, summed);
  return index;
}

/**
 * Writes `shards` as one new pack in `target.dir` the way shard files are
 * written (replaceFile: a temp file, synced, renamed in, the directory
 * synced), so a reader in any process sees the whole pack or none of it.
 */
export async function writePack(target: PackTarget, shards: readonly { id: ShardId; bytes: Uint8Array }[]): Promise<WrittenPack> {
  if (shards.length === 0 || shards.length > MAX_PACK_SHARDS) throw new RangeError(`a pack holds 1 to ${MAX_PACK_SHARDS} shards, not ${shards.length}`);
  const name = randomBytes(8).toString('hex');
  const parts = [packIndex(shards), ...shards.map((s) => s.bytes)];
  await replaceFile(join(target.dir, `${name}.pack`), parts, { sync: target.sync, uncache: true });
  return { name, ids: shards.map((s) => s.id), lengths: shards.map((s) => s.bytes.length) };
}

/** Reads and checks a pack's index: its shards' ids and lengths, in order. */
export async function readPackIndex(path: string): Promise<{ ids: ShardId[]; lengths: number[] }> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const head = Buffer.alloc(HEAD_BYTES);
    const damaged = (why: string) => new PackDamagedError(`pack ${path} is damaged: ${why}`);
    if ((await file.read(head, 0, HEAD_BYTES, 0)).bytesRead < HEAD_BYTES) throw damaged('shorter than its header');
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw damaged('it does not start as a pack');
    if (head[MAGIC.length] !== PACK_VERSION) {
      throw new PackDamagedError(`pack ${path} is version ${head[MAGIC.length]}; this Cairn reads version ${PACK_VERSION}`);
    }
    const count = head.readUInt32LE(MAGIC.length + 1);
    const indexBytes = HEAD_BYTES + count * ENTRY_BYTES + SUM_BYTES;
    if (count === 0 || count > MAX_PACK_SHARDS || indexBytes > size) throw damaged(`its count of ${count} shards does not fit its ${size} bytes`);
    const index = Buffer.alloc(indexBytes);
    if ((await file.read(index, 0, indexBytes, 0)).bytesRead < indexBytes) throw damaged('shorter than its index');
    const summed = indexBytes - SUM_BYTES;
    if (!createHash('sha256').update(index.subarray(0, summed)).digest().equals(index.subarray(summed))) throw damaged('its index checksum does not match');
    const ids: ShardId[] = [];
    const lengths: number[] = [];
    let total = indexBytes;
    for (let i = 0; i < count; i++) {
      const at = HEAD_BYTES + i * ENTRY_BYTES;
      ids.push(index.toString('hex', at, at + SHARD_ID_BYTES));
      lengths.push(index.readUInt32LE(at + SHARD_ID_BYTES));
      total += lengths[i];
    }
    if (total !== size) throw damaged(`its index accounts for ${total} bytes, the file has ${size}`);
    return { ids, lengths };
  } finally {
    await file.close();
  }
}

interface Pack {
  ids: ShardId[];
  offsets: number[];
  lengths: number[];
  dead: Set<ShardId>;
  /** Bytes of the `.dead` file read so far: only what was appended since is read again. */
  deadRead: number;
}

/**
 * The packs of one store directory as this process knows them: which pack
 * holds each live shard. Packs another process wrote are found by `refresh`
 * (a reader that misses calls it), and shards it deleted by the next full
 * refresh (list and stat); until then this process may still read such a
 * shard, whose bytes are as valid as ever, being named by their hash.
 */
export class PackSet {
  readonly dir: string;
  readonly #sync: boolean;
  readonly #packs = new Map<string, Pack>();
  /** The packs holding each live shard, the newest last (it is the one read: a re-put heals). */
  readonly #where = new Map<ShardId, { pack: string; index: number }[]>();
  /** Packs whose index does not check: reported once each, their shards left to repair. */
  readonly damaged = new Map<string, string>();
  /** The live packed ids sorted, for listing page after page; dropped at every change. */
  #sorted: ShardId[] | undefined;

  constructor(dir: string, sync: boolean) {
    this.dir = dir;
    this.#sync = sync;
  }

  locate(id: ShardId): FileRange | undefined {
    const at = this.#where.get(id)?.at(-1);
    if (!at) return undefined;
    const pack = this.#packs.get(at.pack)!;
    return { path: this.#path(at.pack), offset: pack.offsets[at.index], length: pack.lengths[at.index] };
  }

  /** Counts of the live packed shards (a shard in two packs counts once). */
  counts(): Counts {
    let used = 0;
    for (const places of this.#where.values()) {
      const { pack, index } = places.at(-1)!;
      used += this.#packs.get(pack)!.lengths[index];
    }
    return { used, shards: this.#where.size };
  }

  /** Up to `count` live packed ids after `after`, sorted. */
  idsAfter(after: ShardId | undefined, count: number): ShardId[] {
    const sorted = (this.#sorted ??= [...this.#where.keys()].sort());
    let lo = 0;
    let hi = sorted.length;
    while (after !== undefined && lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] <= after) lo = mid + 1;
      else hi = mid;
    }
    return sorted.slice(lo, lo + count);
  }

  /** Packs half dead or more (see wornOut), for a store to unpack. */
  wornOutPacks(): string[] {
    return [...this.#packs.keys()].filter((name) => this.wornOut(name));
  }

  /** Loads packs written since the last look; with `dead`, also what other processes deleted, and forgets packs that are gone. */
  async refresh(dead = false): Promise<void> {
    // Only packs known before the listing can be judged gone by it: one taken in since may postdate it.
    const known = [...this.#packs.keys()];
    const names = await readdirIfPresent(this.dir);
    const present = new Set(names.flatMap((n) => PACK_NAME.exec(n)?.[1] ?? []));
    for (const name of present) {
      if (this.#packs.has(name) || this.damaged.has(name)) continue;
      let index;
      try {
        index = await readPackIndex(this.#path(name));
      } catch (error) {
        if (errorCode(error) === 'ENOENT') continue;
        if (!(error instanceof PackDamagedError)) throw error;
        this.damaged.set(name, error.message);
        continue;
      }
      // Read .dead too before taking it in: a pack added without would bring its deleted shards back.
      if (this.#packs.has(name)) continue;
      this.add({ name, ...index });
      await this.#readDead(name);
    }
    if (!dead) return;
    for (const name of known) {
      if (!present.has(name)) this.#forget(name);
      else await this.#readDead(name);
    }
  }

  /** Takes in a pack this process wrote (or just found); one it knows already is left as it is. */
  add({ name, ids, lengths }: WrittenPack): void {
    if (this.#packs.has(name)) return;
    this.#sorted = undefined;
    const offsets: number[] = [];
    let at = HEAD_BYTES + ids.length * ENTRY_BYTES + SUM_BYTES;
    for (const length of lengths) {
      offsets.push(at);
      at += length;
    }
    this.#packs.set(name, { ids, offsets, lengths, dead: new Set(), deadRead: 0 });
    ids.forEach((id, index) => {
      const places = this.#where.get(id) ?? [];
      if (!places.some((p) => p.pack === name)) this.#where.set(id, [...places, { pack: name, index }]);
    });
  }

  /** The shard's bytes, undefined when no pack (known, or found now) holds it. */
  async read(id: ShardId, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    for (let tries = 0; tries < 2; tries++) {
      if (tries > 0 || !this.#where.has(id)) await this.refresh();
      const pack = this.#where.get(id)?.at(-1)?.pack;
      const range = this.locate(id);
      if (!pack || !range) return undefined;
      const bytes = await readRange(range, signal);
      if (bytes) return bytes;
      // The pack went (another process emptied or unpacked it): forget it and look again.
      this.#forget(pack);
    }
    return undefined;
  }

  /**
   * Marks `id` dead in every pack holding it (durably, when syncing).
   * Returns its length and those packs, undefined when no pack holds it.
   */
  async delete(id: ShardId): Promise<{ length: number; packs: string[] } | undefined> {
    const places = this.#where.get(id);
    if (!places) return undefined;
    const { pack: newest, index } = places.at(-1)!;
    const length = this.#packs.get(newest)!.lengths[index];
    for (const { pack: name } of places) await this.#appendDead(name, id);
    // Only the packs marked: one taken in meanwhile (packed again, or another process's) keeps its copy.
    for (const { pack: name } of places) this.#drop(id, name);
    return { length, packs: places.map((p) => p.pack) };
  }

  /**
   * Whether a pack should go: when half its bytes or more are dead (holding
   * the dead half then costs more than rewriting the live one). `live` lists
   * the shards that must be stored elsewhere first: those whose copy read is
   * this pack's (an older copy of a shard packed again is just dropped).
   * Undefined for a pack this process does not know.
   */
  wornOut(name: string): { live: ShardId[] } | undefined {
    const pack = this.#packs.get(name);
    if (!pack) return undefined;
    let liveBytes = 0;
    let allBytes = 0;
    const live: ShardId[] = [];
    pack.ids.forEach((id, i) => {
      allBytes += pack.lengths[i];
      if (pack.dead.has(id)) return;
      liveBytes += pack.lengths[i];
      if (this.#where.get(id)?.at(-1)?.pack === name) live.push(id);
    });
    return liveBytes * 2 <= allBytes ? { live } : undefined;
  }

  /** `.dead` files whose pack is gone (another process removed it while this one marked a shard of it dead). */
  async orphans(): Promise<string[]> {
    const names = await readdirIfPresent(this.dir);
    const packs = new Set(names.filter((n) => n.endsWith('.pack')).map((n) => n.slice(0, -'.pack'.length)));
    return names.filter((n) => n.endsWith('.dead') && !packs.has(n.slice(0, -'.dead'.length))).map((n) => join(this.dir, n));
  }

  /**
   * One write (O_APPEND) per record, so appends of several processes never
   * interleave. After a record cut short (a crash mid-append) it pads with
   * zeros to the next whole record first, so later records stay aligned.
   */
  async #appendDead(name: string, id: ShardId): Promise<void> {
    const deadPath = this.#path(name, 'dead');
    const file = await open(deadPath, 'a');
    let created: boolean;
    try {
      const size = (await file.stat()).size;
      created = size === 0;
      const record = Buffer.alloc((SHARD_ID_BYTES - (size % SHARD_ID_BYTES)) % SHARD_ID_BYTES + SHARD_ID_BYTES);
      record.write(id, record.length - SHARD_ID_BYTES, 'hex');
      const { bytesWritten } = await file.write(record);
      if (bytesWritten !== record.length) throw new Error(`only ${bytesWritten} of ${record.length} bytes reached ${deadPath}`);
      if (this.#sync) await file.datasync();
    } finally {
      await file.close();
    }
    if (created && this.#sync) await syncDir(this.dir);
    this.#packs.get(name)?.dead.add(id);
  }

  /** Removes a pack whose live shards are stored elsewhere now. */
  async remove(name: string): Promise<void> {
    // Gone from disk first, so a refresh running meanwhile cannot take it back in.
    await unlink(this.#path(name)).catch(ifMissing);
    this.#forget(name);
    await unlink(this.#path(name, 'dead')).catch(ifMissing);
    if (this.#sync) await syncDir(this.dir);
  }

  #forget(name: string): void {
    const pack = this.#packs.get(name);
    if (!pack) return;
    this.#packs.delete(name);
    for (const id of pack.ids) this.#drop(id, name);
  }

  async #readDead(name: string): Promise<void> {
    const pack = this.#packs.get(name);
    const bytes = pack && (await readFile(this.#path(name, 'dead')).catch(ifMissing));
    // Forgotten meanwhile (its pack went), or nothing new.
    if (!pack || !bytes || this.#packs.get(name) !== pack || bytes.length <= pack.deadRead) return;
    // A record cut short by a crash mid-append is ignored; the delete was never acknowledged.
    const whole = bytes.length - (bytes.length % SHARD_ID_BYTES);
    for (let at = pack.deadRead - (pack.deadRead % SHARD_ID_BYTES); at < whole; at += SHARD_ID_BYTES) {
      const id = bytes.toString('hex', at, at + SHARD_ID_BYTES);
      pack.dead.add(id);
      this.#drop(id, name);
    }
    pack.deadRead = whole;
  }

  /** Forgets that pack `name` holds `id`. */
  #drop(id: ShardId, name: string): void {
    this.#sorted = undefined;
    const places = this.#where.get(id)?.filter((p) => p.pack !== name);
    if (places?.length) this.#where.set(id, places);
    else this.#where.delete(id);
  }

  #path(name: string, kind: 'pack' | 'dead' = 'pack'): string {
    return join(this.dir, `${name}.${kind}`);
  }
}

async function readRange({ path, offset, length }: FileRange, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  signal?.throwIfAborted();
  const file = await open(path, 'r').catch(ifMissing);
  if (!file) return undefined;
  try {
    const bytes = new Uint8Array(length);
    const { bytesRead } = await file.read(bytes, 0, length, offset);
    return bytesRead === length ? bytes : undefined;
  } finally {
    await file.close();
  }
}
