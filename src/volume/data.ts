/**
 * File contents by block: dirty blocks waiting for a commit, a bounded cache
 * of plaintext blocks read from the backend, and sequential read-ahead.
 * A block holds the bytes of [index·blockSize, index·blockSize + length);
 * bytes past its length (up to the file size) read as zeros.
 */
import { FsError } from './fs-types.js';
import type { BlockRef, Inode } from './meta.js';

export interface BlockFetcher {
  fetch(ref: BlockRef): Promise<Uint8Array>;
  /** A fetched block nothing will read again: its memory may be taken back (it then reads as empty). */
  recycle?(block: Uint8Array): void;
}

/** Reads that keep finding their blocks recycled under them give up after this many tries (never seen). */
const MAX_TRIES = 100;

export interface DirtyBlock {
  ino: number;
  index: number;
  /** The block's bytes: a view of the first bytes of `room`. */
  data: Uint8Array;
  /**
   * Space the block may grow into in place while it is dirty (and not yet
   * being committed). Past `data` it may hold another block's old bytes (a
   * reused buffer is not cleared): whatever lengthens `data` must write or
   * zero every byte it adds, as applyWrite does.
   */
  room: Uint8Array;
  /** Bumped on every change to this block, so a commit only installs the version it sealed. */
  version: number;
}

const key = (ino: number, index: number) => `${ino}:${index}`;
const refKey = (ref: BlockRef) => Buffer.from(ref.descriptor.subarray(14, 46)).toString('hex');
const READ_AHEAD = 8;

export class DataLayer {
  readonly blockSize: number;
  readonly #fetcher: BlockFetcher;
  readonly #cacheLimit: number;
  dirty = new Map<string, DirtyBlock>();
  /** Blocks being committed: still the newest bytes until the commit installs their refs. */
  flushing = new Map<string, DirtyBlock>();
  readonly #versions = new Map<string, number>();
  readonly #cache = new Map<string, Uint8Array>();
  #cacheBytes = 0;
  readonly #inflight = new Map<string, Promise<Uint8Array>>();
  /** Fetched blocks: recyclable ones. */
  readonly #fetched = new WeakSet<Uint8Array>();
  /** How many buffers were handed back so far, and for each buffer handed back, the count at that moment (see #handBack). */
  #handBacks = 0;
  readonly #handedBack = new WeakMap<ArrayBufferLike, number>();
  readonly #lastRead = new Map<number, number>();
  /** Whole-block buffers made for dirty blocks, and those of them the cache evicted, ready to be written again. */
  readonly #made = new WeakSet<SharedArrayBuffer>();
  readonly #spare: SharedArrayBuffer[] = [];
  readonly #maxSpare: number;

  /**
   * `spareBytes`: at most this much of evicted block memory is kept for new
   * dirty blocks (see #handBack); give the dirty limit, the most one commit can
   * evict at once.
   */
  constructor(blockSize: number, fetcher: BlockFetcher, cacheBytes = 64 * 2 ** 20, spareBytes = 128 * 2 ** 20) {
    this.blockSize = blockSize;
    this.#fetcher = fetcher;
    this.#cacheLimit = cacheBytes;
    this.#maxSpare = Math.floor(spareBytes / blockSize);
  }

  get dirtyBytes(): number {
    let n = 0;
    for (const b of this.dirty.values()) n += b.data.length;
    return n;
  }

  version(ino: number, index: number): number {
    return this.#versions.get(key(ino, index)) ?? 0;
  }

  #bump(ino: number, index: number): number {
    const v = this.version(ino, index) + 1;
    this.#versions.set(key(ino, index), v);
    return v;
  }

  /** The block's current bytes (dirty, being flushed, cached or fetched); undefined for a hole. */
  async block(inode: Inode, index: number): Promise<Uint8Array | undefined> {
    const k = key(inode.ino, index);
    const pending = this.dirty.get(k) ?? this.flushing.get(k);
    if (pending) return pending.data;
    const ref = inode.blocks?.get(index);
    return ref ? this.#load(ref) : undefined;
  }

  #load(ref: BlockRef): Promise<Uint8Array> {
    const k = refKey(ref);
    const cached = this.#cache.get(k);
    if (cached) {
      this.#cache.delete(k);
      this.#cache.set(k, cached);
      return Promise.resolve(cached);
    }
    let flight = this.#inflight.get(k);
    if (!flight) {
      flight = this.#fetcher.fetch(ref).then(
        (data) => {
          this.#inflight.delete(k);
          this.#fetched.add(data);
          this.#remember(k, data);
          return data;
        },
        (err: unknown) => {
          this.#inflight.delete(k);
          throw err;
        },
      );
      this.#inflight.set(k, flight);
    }
    return flight;
  }

  #remember(k: string, data: Uint8Array): void {
    this.#cache.set(k, data);
    this.#cacheBytes += data.length;
    for (const [old, bytes] of this.#cache) {
      if (this.#cacheBytes <= this.#cacheLimit) break;
      this.#cache.delete(old);
      this.#cacheBytes -= bytes.length;
      const recycle = this.#fetcher.recycle;
      if (this.#fetched.has(bytes)) {
        if (recycle) this.#handBack(bytes, () => recycle.call(this.#fetcher, bytes));
      } else if (bytes.buffer instanceof SharedArrayBuffer && this.#made.has(bytes.buffer)) {
        const buffer = bytes.buffer;
        this.#handBack(bytes, () => {
          if (this.#spare.length < this.#maxSpare) this.#spare.push(buffer);
        });
      }
    }
  }

  /**
   * An evicted block's memory is handed back once the current callbacks are
   * done, so a read that got it from the cache just now still copies it out:
   *
   * - A fetched block goes back to the fetcher (`recycle`: the stripe engine
   *   moves it to a worker thread, so it stops counting towards this thread's
   *   next full garbage collection, which V8 runs every 64 MiB of buffers a
   *   thread receives).
   * - A written block's shared memory becomes a later dirty block's
   *   (`#wholeBlock`). Shared memory does not count towards collections at
   *   all, so a dropped block waited for one that other garbage triggered:
   *   with the stripe workers storing the shards (no shard memory reaching
   *   this thread) a 2 GiB write peaked at 1.6 GB. Reused, the blocks a mount
   *   allocates are the most it had live at once, and none costs a page fault
   *   per 4 KiB again. Spares are kept up to the dirty limit, the most one
   *   commit can evict, for the mount's life.
   *
   * A reader that waited for another block meanwhile may still hold it,
   * through this view or an older view of the same buffer (each write to a
   * dirty block makes a new one): `#stable` asks again when any buffer it got
   * was handed back since it asked.
   */
  #handBack(bytes: Uint8Array, give: () => void): void {
    setImmediate(() => {
      this.#handedBack.set(bytes.buffer, ++this.#handBacks);
      give();
    });
  }

  /**
   * A whole block in shared memory, so a stripe worker seals it in place: a
   * spare one if there is, holding an old block's bytes. They are never seen:
   * a dirty block is only its first `data.length` bytes, and applyWrite zeroes
   * any gap a write leaves before it (clearing whole spares up front took 3%
   * of the mount thread in a sequential write, which leaves no gaps).
   */
  #wholeBlock(): Uint8Array {
    const spare = this.#spare.pop();
    if (spare) return new Uint8Array(spare);
    const buffer = new SharedArrayBuffer(this.blockSize);
    this.#made.add(buffer);
    return new Uint8Array(buffer);
  }

  #unchanged(blocks: Iterable<Uint8Array | undefined>, since: number): boolean {
    for (const b of blocks) if (b && (this.#handedBack.get(b.buffer) ?? 0) > since) return false;
    return true;
  }

  /** What `get` brings, asked for again while any of its blocks was recycled before it could be used. */
  async #stable<T>(get: () => Promise<T>, blocks: (got: T) => Iterable<Uint8Array | undefined>): Promise<T> {
    for (let tries = 1; ; tries++) {
      const since = this.#handBacks;
      const got = await get();
      if (this.#unchanged(blocks(got), since)) return got;
      if (tries === MAX_TRIES) throw new FsError('EIO', `blocks were recycled under a read ${MAX_TRIES} times in a row: the block cache is too small for this load`);
    }
  }

  async read(inode: Inode, into: Uint8Array, length: number, position: number): Promise<number> {
    const end = Math.min(inode.size, position + length);
    if (position >= end) return 0;
    const bs = this.blockSize;
    const first = Math.floor(position / bs);
    const last = Math.floor((end - 1) / bs);
    const blocks = await this.#stable(
      () => Promise.all(Array.from({ length: last - first + 1 }, (_, i) => this.block(inode, first + i))),
      (got) => got,
    );
    for (let index = first; index <= last; index++) {
      const from = Math.max(position, index * bs);
      const to = Math.min(end, (index + 1) * bs);
      const data = blocks[index - first];
      const at = from - index * bs;
      const out = into.subarray(from - position, to - position);
      const have = data ? Math.max(0, Math.min(data.length, at + out.length) - at) : 0;
      if (have > 0 && data) out.set(data.subarray(at, at + have));
      out.fill(0, have);
    }
    this.#readAhead(inode, last);
    return end - position;
  }

  /** After two reads in a row that move forward, fetch the next blocks before they are asked for. */
  #readAhead(inode: Inode, last: number): void {
    const previous = this.#lastRead.get(inode.ino);
    this.#lastRead.set(inode.ino, last);
    if (previous === undefined || (last !== previous + 1 && last !== previous)) return;
    for (let i = last + 1; i <= last + READ_AHEAD && i * this.blockSize < inode.size; i++) {
      const ref = inode.blocks?.get(i);
      if (ref && !this.dirty.has(key(inode.ino, i))) this.#load(ref).catch(() => undefined);
    }
  }

  /** Loads what a write needs first (read-modify-write of partial blocks); then apply it synchronously. */
  async prepareWrite(inode: Inode, position: number, length: number): Promise<Map<number, Uint8Array | undefined>> {
    const bs = this.blockSize;
    const first = Math.floor(position / bs);
    const last = Math.floor((position + length - 1) / bs);
    return this.#stable(
      async () => {
        const need = new Map<number, Uint8Array | undefined>();
        for (let index = first; index <= last; index++) {
          const whole = position <= index * bs && position + length >= (index + 1) * bs;
          need.set(index, whole ? undefined : await this.block(inode, index));
        }
        return need;
      },
      (need) => need.values(),
    );
  }

  applyWrite(inode: Inode, data: Uint8Array, position: number, loaded: Map<number, Uint8Array | undefined>): void {
    const bs = this.blockSize;
    for (const [index, before] of loaded) {
      const start = index * bs;
      const from = Math.max(position, start);
      const to = Math.min(position + data.length, start + bs);
      const k = key(inode.ino, index);
      const mine = this.dirty.get(k);
      const current = mine?.data ?? this.flushing.get(k)?.data ?? before;
      // Keep what the block already had beyond this write, up to the old file size.
      const keep = current ? Math.min(current.length, Math.max(0, inode.size - start)) : 0;
      const length = Math.max(keep, to - start);
      // Grow in place when this dirty block has room; otherwise double (sequential writes arrive 128 KiB at a time),
      // or go straight to a whole block once it is being filled piece by piece, or the file spans it already.
      let room = mine && mine.room.length >= length ? mine.room : undefined;
      if (!room) {
        // Past a file's first block the file is taken to be a large one: its blocks start whole.
        const whole = from > start || inode.size >= start + bs || start > 0;
        // A whole block lives in shared memory: sealing it on a worker thread then reads it in place, with no
        // copy on this thread. Safe because a block is not written again once its commit has taken it, until the
        // cache, having held it since the commit, hands its buffer back (#handBack).
        room = whole ? this.#wholeBlock() : new Uint8Array(Math.min(bs, Math.max(length, 2 * (current?.length ?? 0))));
        if (current) room.set(current.subarray(0, Math.min(keep, length)));
      }
      // Past what is kept, `room` may hold a spare block's stale bytes: the gap up to this write
      // becomes zeros, and the write covers the rest of the new length.
      if (from - start > keep) room.fill(0, keep, from - start);
      room.set(data.subarray(from - position, to - position), from - start);
      this.dirty.set(k, { ino: inode.ino, index, data: room.subarray(0, length), room, version: this.#bump(inode.ino, index) });
    }
  }

  /** Shrinks a file's blocks to `size`: drops whole blocks past it and cuts the last one. */
  async truncate(inode: Inode, size: number): Promise<void> {
    const bs = this.blockSize;
    const keepBlocks = Math.ceil(size / bs);
    const partial = size % bs;
    const lastIndex = keepBlocks - 1;
    const last = partial > 0 ? await this.#stable(() => this.block(inode, lastIndex), (b) => [b]) : undefined;
    this.dropFrom(inode, keepBlocks);
    if (last && last.length > partial) {
      const k = key(inode.ino, lastIndex);
      const cut = last.slice(0, partial);
      this.dirty.set(k, { ino: inode.ino, index: lastIndex, data: cut, room: cut, version: this.#bump(inode.ino, lastIndex) });
    }
  }

  /** Forgets blocks from `index` on; returns the refs that no longer belong to the file. */
  dropFrom(inode: Inode, index: number): BlockRef[] {
    const gone: BlockRef[] = [];
    for (const [i, ref] of inode.blocks ?? []) {
      if (i >= index) {
        gone.push(ref);
        inode.blocks?.delete(i);
      }
    }
    for (const map of [this.dirty, this.flushing]) {
      for (const [k, b] of map) {
        if (b.ino === inode.ino && b.index >= index) {
          map.delete(k);
          this.#bump(b.ino, b.index);
        }
      }
    }
    return gone;
  }

  /** Starts a commit: the dirty blocks move to `flushing`; new writes start a fresh dirty set. */
  takeDirty(): DirtyBlock[] {
    for (const [k, b] of this.dirty) this.flushing.set(k, b);
    const taken = [...this.dirty.values()];
    this.dirty = new Map();
    return taken;
  }

  /** A commit has stored `block`; install its ref unless the block changed since. Returns the ref it replaced. */
  install(inode: Inode | undefined, block: DirtyBlock, ref: BlockRef, plaintext: Uint8Array): BlockRef | undefined | false {
    const k = key(block.ino, block.index);
    if (this.flushing.get(k) === block) this.flushing.delete(k);
    if (!inode || this.version(block.ino, block.index) !== block.version) return false;
    inode.blocks ??= new Map();
    const old = inode.blocks.get(block.index);
    inode.blocks.set(block.index, ref);
    this.#remember(refKey(ref), plaintext);
    return old;
  }

  /** A commit failed: its blocks go back to dirty unless rewritten meanwhile. */
  restore(blocks: DirtyBlock[]): void {
    for (const b of blocks) {
      const k = key(b.ino, b.index);
      if (this.flushing.get(k) === b) this.flushing.delete(k);
      if (!this.dirty.has(k) && this.version(b.ino, b.index) === b.version) this.dirty.set(k, b);
    }
  }
}
