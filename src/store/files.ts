import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isShardId, type ShardId, shardId } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';
import { StoreBase } from './base.js';
import { isPrefixDir, ShardCensus } from './census.js';
import { StoreFullError, StoreUnavailableError } from './errors.js';
import { checkShardId } from './gate.js';
import {
  createFileOnce,
  errorCode,
  ifMissing,
  readdirIfPresent,
  readIfPresent,
  replaceFile,
  sweepTemps,
  syncDir,
  tempOwner,
} from './fsio.js';
import { LockTimeoutError, withLockFile } from './lockfile.js';
import { type FileRange, PackSet, type PackTarget, type WrittenPack } from './packs.js';
import { decodeHead, decodeLease, encodeHead, encodeLease, type VolumeRecords } from './records.js';
import { KeyedSerial, Serial } from './serial.js';
import type { StoreStat } from './types.js';
import { type Counts, Usage } from './usage.js';

export interface FileStoreOptions {
  /** Default: the random `files-…` id made when the directory was first opened. */
  id?: string;
  /** Bytes of shards accepted in all; unlimited when absent. Not stored: give it at every open. */
  capacity?: number;
  /** fsync files and directories before a write resolves (default true), so it survives power loss. */
  sync?: boolean;
  /** How long a head or lease update waits for another process's lock on that volume (default 15 s). */
  lockWaitMs?: number;
}

/** Format 2 added packs/; a format 1 store is upgraded when opened (nothing in it changes). */
const FORMAT = 2;
const SUBDIRS = ['shards', 'packs', 'heads', 'leases', 'locks'] as const;
const OWN_ENTRIES = new Set<string>(['id', ...SUBDIRS]);
/** Locks are held for milliseconds; one this old whose owner is dead was left by a crash. */
const LOCK_STALE_MS = 10_000;
const DEFAULT_LOCK_WAIT_MS = LOCK_STALE_MS + 5_000;
/** How long after its last delete a half-dead pack is unpacked. */
const COMPACT_DELAY_MS = 2_000;

interface Identity {
  format: number;
  id: string;
}

type Refuse = (reason: string, cause?: unknown) => StoreUnavailableError;

/**
 * Shards as plain files in a directory that several processes of this
 * machine may open at once (a read-write mount, read-only mounts, `cairn
 * volume ls`). Every change is a rename of a fsynced temp file, so readers in
 * any process see whole files; head and lease updates take a lock file per
 * volume, so their compare-and-set holds across processes. Layout and rules:
 * docs/STORES.md.
 */
export class FileStore extends StoreBase {
  readonly id: string;
  readonly dir: string;
  readonly #usage: Usage;
  readonly #census: ShardCensus;
  readonly #packs: PackSet;
  readonly #sync: boolean;
  readonly #lockWaitMs: number;
  /** Shard commits and recounts in this process, so the counters move exactly with what this process does. */
  readonly #commits = new Serial();
  /** One record update per volume at a time in this process; the lock file orders it against other processes. */
  readonly #volumes = new KeyedSerial();
  /** Packs half dead or more, to unpack once deletes pause (#compact). */
  readonly #wornOut = new Set<string>();
  #compactTimer: NodeJS.Timeout | undefined;

  private constructor(dir: string, id: string, census: ShardCensus, packs: PackSet, counts: Counts, options: FileStoreOptions) {
    super();
    this.id = id;
    this.dir = dir;
    this.#census = census;
    this.#packs = packs;
    this.#usage = new Usage(id, options.capacity, counts);
    this.#sync = options.sync ?? true;
    this.#lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  }

  /** Opens (creating when missing) the store in `dir`; any number of processes may have it open. */
  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const location = resolve(dir);
    // Without an explicit id the store is known by its directory, so naming it once is enough.
    const refuse: Refuse = (reason, cause) =>
      options.id === undefined
        ? new StoreUnavailableError(location, reason, { cause })
        : new StoreUnavailableError(options.id, `${reason} (directory ${location})`, { cause });
    try {
      await mkdir(location, { recursive: true });
      const identity = await readOrCreateIdentity(location, refuse);
      // A store on read-only media may lack packs/ (made before format 2): it is read without.
      for (const sub of SUBDIRS) await mkdir(join(location, sub), { recursive: true }).catch(unlessMissingOnReadOnly);
      const census = new ShardCensus(join(location, 'shards'));
      const { counts, temps } = await census.count();
      // Temp files of writers that died mid-write: nobody will rename them now.
      for (const { dir: where, names } of temps) await sweepTemps(where, names);
      for (const where of [location, join(location, 'packs'), join(location, 'heads'), join(location, 'leases')]) {
        await sweepTemps(where, await readdirIfPresent(where));
      }
      await makePrefixDirs(join(location, 'shards'), options.sync ?? true);
      const packs = new PackSet(join(location, 'packs'), options.sync ?? true);
      await packs.refresh(true);
      const packed = packs.counts();
      const all = { used: counts.used + packed.used, shards: counts.shards + packed.shards };
      const store = new FileStore(location, options.id ?? identity.id, census, packs, all, options);
      // Left half dead by a process that stopped before unpacking them.
      store.#scheduleCompaction(packs.wornOutPacks());
      return store;
    } catch (error) {
      if (error instanceof CairnError) throw error;
      throw refuse(`cannot open its directory: ${(error as Error).message}`, error);
    }
  }

  protected putShard(id: ShardId, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    return this.#guard(async () => {
      const path = this.#shardPath(id);
      // A re-put writes again and renames over what is there: an intact copy
      // is replaced by the same bytes, a damaged one is healed. Re-puts are
      // rare; checking first cost every put a read. The prefix directory was
      // made at open.
      signal?.throwIfAborted();
      await replaceFile(path, bytes, { sync: this.#sync, uncache: true }, (rename) =>
        this.#commits.run(async () => {
          signal?.throwIfAborted();
          const previous = (await lstat(path).catch(ifMissing))?.size;
          const counts = await this.#countsAfterPut(previous, bytes.length);
          await rename();
          this.#usage.set(counts);
          // The file is the copy now: a packed one (perhaps the damaged copy this put heals) goes.
          await this.#deletePacked(id, false);
        }),
      );
    });
  }

  /** Where shard `id` is kept: its place in a pack this process knows of, else the path its shard file has when it exists. */
  shardFile(id: ShardId): string | FileRange {
    checkShardId(this.id, id);
    return this.#packs.locate(id) ?? this.#shardPath(id);
  }

  /** Packs skipped because their index does not check, with why: their shards read as missing until repair rebuilds them. */
  damagedPacks(): ReadonlyMap<string, string> {
    return this.#packs.damaged;
  }

  // A capacity needs the count checked before the rename, in this process's queue: only put does that.
  // A closed store takes nothing more: its put says so.
  packTarget(): PackTarget | undefined {
    if (this.closed || this.#usage.capacity !== null) return undefined;
    return { dir: this.#packs.dir, sync: this.#sync };
  }

  packWritten(pack: WrittenPack): void {
    for (const id of pack.ids) checkShardId(this.id, id);
    let counts = this.#usage.stat() as Counts;
    const added = new Set<ShardId>();
    pack.ids.forEach((id, i) => {
      if (this.#packs.locate(id) !== undefined || added.has(id)) return;
      added.add(id);
      counts = { used: counts.used + pack.lengths[i], shards: counts.shards + 1 };
    });
    this.#packs.add(pack);
    this.#usage.set(counts);
  }

  protected getShard(id: ShardId, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    return this.#guard(async () => {
      if (this.#packs.locate(id)) {
        const packed = await this.#packs.read(id, signal);
        if (packed) return packed;
      }
      const loose = async () => {
        const bytes = await readIfPresent(this.#shardPath(id), signal);
        if (bytes === undefined) return undefined;
        // A plain Uint8Array like every other backend's; copied only when readFile used Node's shared pool.
        const own = bytes.byteLength === bytes.buffer.byteLength;
        return own ? new Uint8Array(bytes.buffer) : Uint8Array.from(bytes);
      };
      // Packs other processes wrote since this one looked are found by read; a pack another
      // process unpacked meanwhile has made its file before it went, so the file is read again.
      return (await loose()) ?? (await this.#packs.read(id, signal)) ?? (await loose());
    });
  }

  protected hasShard(id: ShardId): Promise<boolean> {
    return this.#guard(async () => {
      const file = async () => (await lstat(this.#shardPath(id)).catch(ifMissing)) !== undefined;
      if (this.#packs.locate(id) || (await file())) return true;
      await this.#packs.refresh();
      // As in get: an unpack elsewhere makes the file before the pack goes.
      return this.#packs.locate(id) !== undefined || (await file());
    });
  }

  protected deleteShard(id: ShardId, signal?: AbortSignal): Promise<void> {
    const path = this.#shardPath(id);
    return this.#guard(async () => {
      const removed = await this.#commits.run(async () => {
        signal?.throwIfAborted();
        await this.#deletePacked(id, true);
        const previous = (await lstat(path).catch(ifMissing))?.size;
        if (previous === undefined) return false;
        // Gone already means another process deleted it; the next recount shows that.
        if ((await unlink(path).then(() => true, ifMissing)) === undefined) return false;
        this.#usage.set(this.#usage.afterDelete(previous));
        return true;
      });
      if (removed && this.#sync) await syncDir(dirname(path));
    });
  }

  /**
   * Marks the shard dead in its packs (with `look`, also in packs other
   * processes wrote since this one looked). A pack left with no live shard
   * goes now; one half dead is unpacked a little later (COMPACT_DELAY_MS
   * after the last delete, or at close), since deletes come in runs (a
   * commit's garbage, a volume removed) that often empty it altogether.
   */
  async #deletePacked(id: ShardId, look: boolean): Promise<void> {
    let deleted = await this.#packs.delete(id);
    if (!deleted && look) {
      await this.#packs.refresh();
      deleted = await this.#packs.delete(id);
    }
    if (!deleted) return;
    this.#usage.set(this.#usage.afterDelete(deleted.length));
    const worn: string[] = [];
    for (const pack of deleted.packs) {
      const state = this.#packs.wornOut(pack);
      if (state?.live.length === 0) await this.#packs.remove(pack);
      else if (state) worn.push(pack);
    }
    this.#scheduleCompaction(worn);
  }

  #scheduleCompaction(packs: readonly string[]): void {
    for (const pack of packs) this.#wornOut.add(pack);
    if (this.#wornOut.size === 0) return;
    clearTimeout(this.#compactTimer);
    this.#compactTimer = setTimeout(() => void this.#compactNow().catch(() => undefined), COMPACT_DELAY_MS);
    this.#compactTimer.unref();
  }

  #compactNow(): Promise<void> {
    return this.#guard(() => this.#commits.run(() => this.#compact()));
  }

  /**
   * Unpacks the worn-out packs: each live shard becomes a shard file (only
   * where none exists: one there may be a copy another process just put, and
   * only bytes that match their id), then the pack goes. Deletes by other
   * processes are read first; one landing during the unpack may leave its
   * shard behind as a file, which only costs space until a GC. Runs in
   * #commits.
   */
  async #compact(): Promise<void> {
    if (this.#wornOut.size === 0) return;
    await this.#packs.refresh(true);
    for (const pack of this.#wornOut) {
      this.#wornOut.delete(pack);
      const worn = this.#packs.wornOut(pack);
      if (!worn) continue;
      for (const live of worn.live) {
        const bytes = await this.#packs.read(live);
        if (bytes && shardId(bytes) === live) {
          await createFileOnce(this.#shardPath(live), bytes, { sync: this.#sync, uncache: true });
        }
      }
      await this.#packs.remove(pack);
    }
    for (const orphan of await this.#packs.orphans()) await unlink(orphan).catch(ifMissing);
  }

  protected listShards(after: ShardId | undefined, count: number, signal?: AbortSignal): Promise<ShardId[]> {
    return this.#guard(async () => {
      // Packed ids first: a shard unpacked (by any process) while the files are read is then in one or the other.
      // What others deleted is read at the first page (and by stat), not at every one.
      await this.#packs.refresh(after === undefined);
      const packed = this.#packs.idsAfter(after, count);
      const root = join(this.dir, 'shards');
      const first = after?.slice(0, 2) ?? '';
      const prefixes = (await readdirIfPresent(root)).filter((p) => isPrefixDir(p) && p >= first).sort();
      const ids: ShardId[] = [];
      for (const prefix of prefixes) {
        signal?.throwIfAborted();
        const names = (await readdirIfPresent(join(root, prefix)))
          .filter((name) => isShardId(name) && name.startsWith(prefix) && (after === undefined || name > after))
          .sort();
        ids.push(...names.slice(0, count - ids.length));
        if (ids.length >= count) break;
      }
      if (packed.length === 0) return ids;
      // Loose ids past the last one read were not looked at: the merge stops before them.
      const last = ids.length >= count ? ids[ids.length - 1] : undefined;
      const merged = [...new Set([...ids, ...packed.filter((id) => last === undefined || id < last)])].sort();
      return merged.slice(0, count);
    });
  }

  // Other processes add and remove shards too, so stat counts what is on disk (cheaply: see ShardCensus).
  protected statStore(): Promise<StoreStat> {
    return this.#guard(() =>
      this.#commits.run(async () => {
        await this.#recount();
        return this.#usage.stat();
      }),
    );
  }

  protected readVolume(volumeId: string): Promise<VolumeRecords> {
    return this.#guard(() => this.#readVolume(volumeId));
  }

  protected updateVolume(
    volumeId: string,
    decide: (held: VolumeRecords) => VolumeRecords | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.#underLock(volumeId, signal, async () => {
      const change = decide(await this.#readVolume(volumeId));
      if (change?.head) await replaceFile(this.#recordPath('heads', volumeId), encodeHead(change.head), { sync: this.#sync });
      if (change?.lease) await replaceFile(this.#recordPath('leases', volumeId), encodeLease(change.lease), { sync: this.#sync });
    });
  }

  protected deleteVolume(volumeId: string, signal?: AbortSignal): Promise<void> {
    return this.#underLock(volumeId, signal, async () => {
      for (const kind of ['heads', 'leases'] as const) {
        const removed = await unlink(this.#recordPath(kind, volumeId)).then(() => true, ifMissing);
        if (removed && this.#sync) await syncDir(join(this.dir, kind));
      }
    });
  }

  /** One change of a volume's records at a time: in this process by queue, across processes by its lock file. */
  #underLock(volumeId: string, signal: AbortSignal | undefined, work: () => Promise<void>): Promise<void> {
    const lock = join(this.dir, 'locks', volumeId);
    const options = { signal, waitMs: this.#lockWaitMs, staleMs: LOCK_STALE_MS };
    return this.#guard(() => this.#volumes.run(volumeId, () => withLockFile(lock, options, work)));
  }

  protected async closeStore(): Promise<void> {
    // Nothing is held open between operations (every file is opened and closed within one); packs left worn out are unpacked now.
    clearTimeout(this.#compactTimer);
    // Best effort: a pack left worn out is unpacked by the next process to delete from it or open the store.
    await this.#compactNow().catch(() => undefined);
  }

  async #readVolume(volumeId: string): Promise<VolumeRecords> {
    const [head, lease] = await Promise.all([
      readIfPresent(this.#recordPath('heads', volumeId)),
      readIfPresent(this.#recordPath('leases', volumeId)),
    ]);
    return {
      head: head && decodeHead(this.id, volumeId, head),
      lease: lease && decodeLease(this.id, volumeId, lease),
    };
  }

  /** Only a new shard can be refused; before refusing, count again: other processes may have freed room. */
  async #countsAfterPut(previous: number | undefined, length: number): Promise<Counts> {
    try {
      return this.#usage.afterPut(previous, length);
    } catch (error) {
      if (!(error instanceof StoreFullError)) throw error;
      await this.#recount();
      return this.#usage.afterPut(previous, length);
    }
  }

  /** Runs inside #commits, so no commit of this process is half counted. */
  async #recount(): Promise<void> {
    const loose = (await this.#census.count()).counts;
    await this.#packs.refresh(true);
    const packed = this.#packs.counts();
    this.#usage.set({ used: loose.used + packed.used, shards: loose.shards + packed.shards });
  }

  #shardPath(id: ShardId): string {
    return join(this.dir, 'shards', id.slice(0, 2), id);
  }

  #recordPath(kind: 'heads' | 'leases', volumeId: string): string {
    return join(this.dir, kind, volumeId);
  }

  /** File system failures (EIO, ENOSPC, EACCES) and a stuck lock become one typed error naming the directory. */
  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof CairnError) throw error;
      const what = error instanceof LockTimeoutError ? '' : `file system error in ${this.dir}: `;
      throw new StoreUnavailableError(this.id, `${what}${(error as Error).message}`, { cause: error });
    }
  }
}

/**
 * All 256 prefix directories, made once when a store is opened rather than
 * on first use: a mkdir per put (failing with EEXIST nearly always) and a
 * directory fsync per new one cost a fresh volume's first writes a sixth of
 * the thread's time.
 */
async function makePrefixDirs(shards: string, sync: boolean): Promise<void> {
  const present = new Set(await readdir(shards));
  let made = false;
  for (let i = 0; i < 256; i++) {
    const prefix = i.toString(16).padStart(2, '0');
    if (present.has(prefix)) continue;
    const code = await mkdir(join(shards, prefix)).then(() => undefined, (error: unknown) => {
      if (errorCode(error) === 'EEXIST' || errorCode(error) === 'EROFS') return errorCode(error);
      throw error;
    });
    // A store on read-only media (made before prefixes came at open) is still read; puts fail as they would anyway.
    if (code === 'EROFS') return;
    made ||= code === undefined;
  }
  if (made && sync) await syncDir(shards);
}

async function readOrCreateIdentity(dir: string, refuse: Refuse): Promise<Identity> {
  const path = join(dir, 'id');
  const existing = await readIfPresent(path);
  if (existing !== undefined) {
    const identity = parseIdentity(existing, refuse);
    if (identity.format === FORMAT) return identity;
    // Format 1 had no packs: marking it 2 keeps a Cairn that cannot read packs from missing them later.
    const upgraded = { format: FORMAT, id: identity.id };
    // On media this process cannot write, it is read as it is (it has no packs).
    await replaceFile(path, new TextEncoder().encode(JSON.stringify(upgraded)), { sync: true }).catch((error: unknown) => {
      if (errorCode(error) !== 'EROFS' && errorCode(error) !== 'EACCES') throw error;
    });
    return upgraded;
  }
  // Refuse to adopt a directory with other things in it: they would sit beside shards forever.
  const foreign = (await readdir(dir)).filter((name) => !OWN_ENTRIES.has(name) && tempOwner(name) === undefined);
  if (foreign.length > 0) {
    throw refuse(`its directory holds files that are not a Cairn shard store (${foreign.slice(0, 3).join(', ')})`);
  }
  const identity: Identity = { format: FORMAT, id: `files-${randomBytes(6).toString('hex')}` };
  // When two processes open a new directory at once, the first id stays and both use it.
  await createFileOnce(path, new TextEncoder().encode(JSON.stringify(identity)), { sync: true });
  return parseIdentity(await readFile(path), refuse);
}

function parseIdentity(bytes: Uint8Array, refuse: Refuse): Identity {
  let identity: Partial<Identity>;
  try {
    identity = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<Identity>;
  } catch (error) {
    throw refuse('its id file is damaged', error);
  }
  if (identity.format !== FORMAT && identity.format !== 1) {
    throw refuse(`its directory holds store format ${identity.format}; this Cairn reads formats 1 and ${FORMAT}`);
  }
  if (typeof identity.id !== 'string' || identity.id.length === 0) throw refuse('its id file is damaged');
  return identity as Identity;
}

/** For mkdir on read-only media (or a directory this process cannot write): nothing to make there. */
function unlessMissingOnReadOnly(error: unknown): void {
  const code = errorCode(error);
  if (code !== 'EROFS' && code !== 'EACCES' && code !== 'ENOENT') throw error;
}
