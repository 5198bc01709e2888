/**
 * A mounted volume: its filesystem state, the write-back journal, commits to
 * the backend, and (read-write) the single-writer lease.
 *
 * Commit: under the filesystem's op queue, take the dirty blocks and the
 * changed inodes as they are at that point (and the journal position they
 * cover); seal and store the blocks; seal the changed inodes (or, every
 * MAX_SEGMENTS commits, all of them as a checkpoint) as metadata stripes;
 * write a new signed head (epoch, seq + 1, root) to the stores, which refuse
 * it if a newer writer has taken over; then clear the journal up to that
 * point and delete the stripes nothing refers to any more.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { type VolumeKeys, volumeKeys } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';
import { LeaseConflictError, StaleHeadError, type LeaseRecord } from '../store/index.js';
import { BlockKind, StripeEngine, type StripeKeys } from '../stripe/index.js';
import { Backend, BackendError } from './backend.js';
import { DataLayer, type DirtyBlock } from './data.js';
import { FsError, type StatFs } from './fs-types.js';
import { VolumeFileSystem } from './fs.js';
import { decodeHead, encodeHead } from './head.js';
import { Journal } from './journal.js';
import { type BlockRef, Meta, type Segment, applySegment, checkpointOf, segmentOf } from './meta.js';
import type { Op } from './ops.js';

const MAX_SEGMENTS = 16;
const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_COMMIT_MS = 5_000;
/**
 * Stripes a commit seals and stores as one group, per stripe worker: each
 * worker writes its shards of a group as one pack per store (8 x 256 KiB with
 * 1 MiB blocks and 4+2), and two groups are in flight.
 */
const STRIPES_PER_THREAD = 8;
/** Dirty bytes past which a write waits for a commit: memory pressure. */
const DIRTY_LIMIT = 128 * 2 ** 20;

export interface VolumeConfig {
  /** 16 random bytes. */
  id: Uint8Array;
  key: Uint8Array;
  k: number;
  m: number;
  blockSize: number;
}

export interface OpenOptions {
  readOnly?: boolean;
  forceTakeover?: boolean;
  /** Where this machine keeps the volume's write-back journal (read-write mounts). */
  journalDir?: string;
  leaseMs?: number;
  commitIntervalMs?: number;
  /** Dirty bytes past which writers wait for a commit (memory pressure); default 128 MiB. */
  dirtyLimitBytes?: number;
  engine?: StripeEngine;
}

export class VolumeBusyError extends CairnError {
  readonly lease: LeaseRecord;
  constructor(lease: LeaseRecord) {
    const left = Math.max(0, Math.round((lease.expiresAtMs - Date.now()) / 1000));
    super(
      'volume.busy',
      `the volume is mounted read-write by ${lease.holder} (lease epoch ${lease.epoch}, ${left} s left); ` +
        'mount it --read-only, wait for the lease to expire, or take over with --force-takeover',
    );
    this.lease = lease;
  }
}

export class FencedError extends CairnError {
  constructor(detail: string) {
    super('volume.fenced', `this mount lost the volume to a newer writer (${detail}); its later changes are refused`);
  }
}

interface Root {
  checkpoint: BlockRef[];
  segments: BlockRef[][];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const refToJson = (r: BlockRef) => [Buffer.from(r.descriptor).toString('base64'), r.stores];
const refFromJson = ([d, s]: [string, string[]]): BlockRef => ({ descriptor: new Uint8Array(Buffer.from(d, 'base64')), stores: s });

function encodeRoot(root: Root): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ v: 1, checkpoint: root.checkpoint.map(refToJson), segments: root.segments.map((s) => s.map(refToJson)) }),
  );
}

function decodeRoot(bytes: Uint8Array): Root {
  const j = JSON.parse(new TextDecoder().decode(bytes)) as { checkpoint: [string, string[]][]; segments: [string, string[]][][] };
  return { checkpoint: j.checkpoint.map(refFromJson), segments: j.segments.map((s) => s.map(refFromJson)) };
}

/**
 * A lease held by a process of this machine that no longer exists: the mount
 * was killed (its journal is here and is replayed), so waiting out the lease
 * would only delay recovery.
 */
function crashedHere(holder: string): boolean {
  const [host, pid] = holder.split('/');
  if (host !== hostname() || !/^\d+$/.test(pid ?? '')) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Stores learn only a size class: the next power of two, at least 4 KiB. */
const padClass = (length: number) => Math.max(4096, 2 ** Math.ceil(Math.log2(Math.max(1, length))));

export class Volume {
  readonly config: VolumeConfig;
  readonly backend: Backend;
  readonly fs: VolumeFileSystem;
  readonly keys: VolumeKeys;
  readonly #stripeKeys: StripeKeys;
  readonly #options: OpenOptions;
  readonly #engine: StripeEngine;
  readonly #ownEngine: boolean;
  #journal?: Journal;
  #root: Root = { checkpoint: [], segments: [] };
  epoch = 0;
  seq = 0;
  #holder = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  #discards: BlockRef[] = [];
  /** Repair moved shards of metadata stripes: the root must be written even with nothing else to commit. */
  #rootMoved = false;
  #current?: Promise<void>;
  #next?: Promise<void>;
  #timers: NodeJS.Timeout[] = [];
  #fenced?: FencedError;
  #closed = false;

  private constructor(config: VolumeConfig, backend: Backend, meta: Meta, options: OpenOptions) {
    this.config = config;
    this.backend = backend;
    this.keys = volumeKeys(config.key);
    this.#stripeKeys = { volumeId: config.id, key: this.keys.encryption };
    this.#options = options;
    this.#ownEngine = !options.engine;
    this.#engine = options.engine ?? new StripeEngine();
    const data = new DataLayer(
      config.blockSize,
      {
        fetch: (ref) => this.backend.getStripe(ref, this.#stripeKeys, this.#engine),
        recycle: (block) => this.#engine.recycle(block),
      },
      undefined,
      options.dirtyLimitBytes ?? DIRTY_LIMIT,
    );
    this.fs = new VolumeFileSystem(
      meta,
      data,
      {
        journal: (op) => this.#journalOp(op),
        commit: () => this.commit(),
        written: () => this.#pressure(),
        discard: (refs) => this.#discards.push(...refs),
        statfs: () => this.#statfs(),
      },
      options.readOnly === true,
    );
  }

  get idHex(): string {
    return hex(this.config.id);
  }

  static async open(config: VolumeConfig, backend: Backend, options: OpenOptions = {}): Promise<Volume> {
    const volume = new Volume(config, backend, new Meta(), options);
    try {
      if (!options.readOnly) {
        // The lease first: once it is ours, the old writer's heads are refused, so the head
        // loaded next is the last one it will ever commit.
        await volume.#acquireLease();
      }
      await volume.#load();
      if (!options.readOnly) {
        if (!options.journalDir) throw new CairnError('volume.usage', 'a read-write mount needs a journal directory');
        volume.#journal = await Journal.open(options.journalDir, volume.keys.encryption);
        await volume.#replay();
        await volume.commit();
        volume.#startTimers();
      }
      return volume;
    } catch (err) {
      await volume.#shutdown();
      throw err;
    }
  }

  /** Group commit: a caller arriving during a commit waits for the next one, which includes its changes. */
  commit(): Promise<void> {
    if (this.#fenced) return Promise.reject(this.#fenced);
    if (!this.#current) {
      this.#current = this.#commitOnce().finally(() => {
        this.#current = undefined;
      });
      return this.#current;
    }
    this.#next ??= this.#current
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        return this.commit();
      });
    return this.#next;
  }

  /** Every stripe the committed state refers to: data blocks and metadata (for `volume rm`). */
  allRefs(): BlockRef[] {
    return this.stripes().map((s) => s.ref);
  }

  /** Every stripe of the committed state and its owner: the inode whose block it is, or null for metadata. */
  stripes(): { ref: BlockRef; owner: number | null }[] {
    const out: { ref: BlockRef; owner: number | null }[] = [...this.#root.checkpoint, ...this.#root.segments.flat()].map((ref) => ({ ref, owner: null }));
    for (const [ino, inode] of this.fs.meta.inodes) {
      for (const ref of inode.blocks?.values() ?? []) out.push({ ref, owner: ino });
    }
    return out;
  }

  /**
   * Repair changed where some shards of these owners' stripes live (in place,
   * in their refs): the next commit writes them out. Read-write only.
   */
  storesMoved(owners: Iterable<number | null>): void {
    for (const owner of owners) {
      if (owner === null) this.#rootMoved = true;
      else this.fs.meta.changed.add(owner);
    }
  }

  /** The live lease on the stores, if any (for `volume info` and `volume rm`). */
  async lease(): Promise<LeaseRecord | undefined> {
    let current: LeaseRecord | undefined;
    for (const r of await this.backend.each((s) => s.getLease(this.idHex), { quorum: true })) {
      if (r.status === 'fulfilled' && r.value && (!current || r.value.epoch > current.epoch)) current = r.value;
    }
    return current;
  }

  /** Commits what is left, gives up the lease and closes; the volume is then unusable. FencedError when a newer writer took it over. */
  async close(): Promise<void> {
    if (this.#closed) return;
    let fenced: FencedError | undefined;
    try {
      if (!this.fs.readOnly && !this.#fenced) await this.commit();
      if (!this.fs.readOnly && !this.#fenced) {
        await this.#putLease(0).catch((err: unknown) => {
          // A newer writer holds the lease: this mount was fenced off, even if it had nothing left to write.
          if (err instanceof VolumeBusyError && err.lease.epoch > this.epoch) fenced = new FencedError(`lease epoch ${err.lease.epoch}`);
        });
      }
    } finally {
      await this.#shutdown();
    }
    if (fenced) throw fenced;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await this.#journal?.close();
    if (this.#ownEngine) await this.#engine.close();
  }

  /**
   * Past a quarter of the dirty limit a commit starts in the background, so
   * sealing overlaps with writing; past the limit writers wait for it.
   */
  #pressure(): Promise<void> {
    const limit = this.#options.dirtyLimitBytes ?? DIRTY_LIMIT;
    const dirty = this.fs.data.dirtyBytes;
    if (dirty > limit) return this.commit();
    if (dirty > limit / 4 && !this.#current) this.commit().catch(() => undefined);
    return Promise.resolve();
  }

  async #journalOp(op: Op): Promise<void> {
    if (this.#fenced) throw new FsError('EROFS', this.#fenced.message);
    await this.#journal!.append(op);
  }

  // ---- loading ----

  async #load(): Promise<void> {
    const results = await this.backend.each((s) => s.getHead(this.idHex), { quorum: true });
    let best: ReturnType<typeof decodeHead> | undefined;
    for (const r of results) {
      if (r.status !== 'fulfilled' || !r.value) continue;
      try {
        const head = decodeHead(r.value.body, this.keys, this.config.id);
        if (!best || head.epoch > best.epoch || (head.epoch === best.epoch && head.seq > best.seq)) best = head;
      } catch {
        // A head that does not verify is ignored: a store cannot forge or roll back a volume.
      }
    }
    const meta = this.fs.meta;
    if (!best) {
      const fresh = Meta.empty();
      for (const [ino, inode] of fresh.inodes) meta.inodes.set(ino, inode);
      meta.nextIno = fresh.nextIno;
      meta.changed = new Set(fresh.changed);
      return;
    }
    // A writer keeps the epoch of its lease; a reader reports the head's.
    if (this.fs.readOnly) this.epoch = best.epoch;
    this.seq = best.seq;
    this.#root = decodeRoot(best.root);
    for (const refs of [this.#root.checkpoint, ...this.#root.segments]) {
      applySegment(meta, await this.#readSegment(refs));
    }
  }

  async #readSegment(refs: BlockRef[]): Promise<Segment> {
    const parts = await Promise.all(refs.map((r) => this.backend.getStripe(r, this.#stripeKeys)));
    return JSON.parse(new TextDecoder().decode(Buffer.concat(parts))) as Segment;
  }

  async #replay(): Promise<void> {
    for (const op of await this.#journal!.pending()) {
      try {
        await this.fs.prepare(op);
        this.fs.apply(op);
      } catch (err) {
        // The op failed live too, or acted on a file that only an open handle kept alive.
        if (!(err instanceof FsError)) throw err;
      }
    }
  }

  // ---- the lease ----

  async #acquireLease(): Promise<void> {
    const now = Date.now();
    const current = await this.lease();
    const live = current && current.expiresAtMs > now && !crashedHere(current.holder);
    if (current && live && !this.#options.forceTakeover) throw new VolumeBusyError(current);
    let headEpoch = 0;
    for (const r of await this.backend.each((s) => s.getHead(this.idHex), { quorum: true })) {
      if (r.status === 'fulfilled' && r.value) headEpoch = Math.max(headEpoch, r.value.epoch);
    }
    this.epoch = Math.max(current?.epoch ?? 0, headEpoch) + 1;
    await this.#putLease(now + (this.#options.leaseMs ?? DEFAULT_LEASE_MS));
  }

  async #putLease(expiresAtMs: number): Promise<void> {
    const lease: LeaseRecord = { volumeId: this.idHex, epoch: this.epoch, holder: this.#holder, expiresAtMs };
    const results = await this.backend.each((s) => s.putLease(lease), { quorum: true });
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    if (accepted >= this.backend.quorum) return;
    const conflict = results.find(
      (r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof LeaseConflictError,
    );
    if (conflict) {
      const holder = (conflict.reason as LeaseConflictError).current;
      this.#fenced ??= expiresAtMs > 0 && holder.epoch > this.epoch ? new FencedError(`lease epoch ${holder.epoch}`) : undefined;
      throw new VolumeBusyError(holder);
    }
    throw new BackendError(`the lease was accepted by ${accepted} of ${results.length} stores, ${this.backend.quorum} needed`);
  }

  #startTimers(): void {
    const leaseMs = this.#options.leaseMs ?? DEFAULT_LEASE_MS;
    const renew = setInterval(() => {
      this.#putLease(Date.now() + leaseMs).catch(() => undefined);
    }, leaseMs / 3);
    const flush = setInterval(() => {
      this.commit().catch(() => undefined);
    }, this.#options.commitIntervalMs ?? DEFAULT_COMMIT_MS);
    renew.unref();
    flush.unref();
    this.#timers.push(renew, flush);
  }

  // ---- commits ----

  async #commitOnce(): Promise<void> {
    const fs = this.fs;
    const meta = fs.meta;
    const snap = await fs.exclusive(() => {
      const blocks = fs.data.takeDirty();
      const changed = new Set(meta.changed);
      meta.changed.clear();
      for (const b of blocks) changed.add(b.ino);
      const checkpoint = this.#root.segments.length >= MAX_SEGMENTS || this.seq === 0;
      const segment = checkpoint ? checkpointOf(meta) : segmentOf(meta, changed);
      const discards = this.#discards;
      this.#discards = [];
      return { blocks, changed, checkpoint, segment, discards, journalSeq: this.#journal?.lastSeq ?? 0 };
    });
    const { blocks, changed, segment, discards } = snap;
    const rootMoved = this.#rootMoved;
    this.#rootMoved = false;
    if (blocks.length === 0 && changed.size === 0 && discards.length === 0 && !rootMoved && this.seq > 0) return;

    const undo = () => {
      this.#rootMoved ||= rootMoved;
      fs.data.restore(blocks);
      for (const ino of changed) meta.changed.add(ino);
      this.#discards.push(...discards);
    };
    let refs: BlockRef[];
    try {
      refs = await this.#storeBlocks(blocks);
    } catch (err) {
      undo();
      throw err;
    }
    const garbage = [...discards];
    const upserts = new Map(segment.upserts.map((u) => [u.ino, u]));
    blocks.forEach((b, i) => {
      const entry = upserts.get(b.ino);
      if (entry) {
        entry.blocks ??= [];
        const at = entry.blocks.findIndex(([n]) => n === b.index);
        const json: [number, string, string[]] = [b.index, Buffer.from(refs[i].descriptor).toString('base64'), refs[i].stores];
        if (at >= 0) {
          garbage.push({ descriptor: new Uint8Array(Buffer.from(entry.blocks[at][1], 'base64')), stores: entry.blocks[at][2] });
          entry.blocks[at] = json;
        } else {
          entry.blocks.push(json);
        }
      }
      const installed = fs.data.install(meta.inodes.get(b.ino), b, refs[i], b.data);
      if (installed === false && !fs.data.dirty.has(`${b.ino}:${b.index}`)) {
        // The block was truncated or its file deleted since: only the committed state still uses it.
      } else if (installed === false) {
        meta.inodes.get(b.ino)?.blocks?.set(b.index, refs[i]);
      }
    });

    try {
      const segmentRefs = await this.#storeMetadata(segment);
      const root: Root = snap.checkpoint
        ? { checkpoint: segmentRefs, segments: [] }
        : { checkpoint: this.#root.checkpoint, segments: [...this.#root.segments, segmentRefs] };
      await this.#putHead(root);
      if (snap.checkpoint) garbage.push(...this.#root.checkpoint, ...this.#root.segments.flat());
      this.#root = root;
    } catch (err) {
      this.#rootMoved ||= rootMoved;
      for (const ino of changed) meta.changed.add(ino);
      for (const b of blocks) meta.changed.add(b.ino);
      this.#discards.push(...discards);
      throw err;
    }
    await this.#journal?.clearThrough(snap.journalSeq);
    await Promise.all(garbage.map((r) => this.backend.deleteStripe(r)));
  }

  async #storeBlocks(blocks: DirtyBlock[]): Promise<BlockRef[]> {
    const refs: BlockRef[] = new Array(blocks.length);
    const size = this.#engine.threads * STRIPES_PER_THREAD;
    let next = 0;
    let failed = false;
    const lane = async () => {
      while (next < blocks.length && !failed) {
        const start = next;
        next = Math.min(blocks.length, start + size);
        try {
          const stored = await this.#storeStripes(blocks.slice(start, next).map((b) => b.data), BlockKind.Data);
          stored.forEach((ref, j) => (refs[start + j] = ref));
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    // Two groups in flight: one is sealed while the packs of the other are written.
    await Promise.all([lane(), lane()]);
    return refs;
  }

  async #storeMetadata(segment: Segment): Promise<BlockRef[]> {
    const bytes = new TextEncoder().encode(JSON.stringify(segment));
    const bs = this.config.blockSize;
    const parts: Uint8Array[] = [];
    // Each part its own buffer: a view would take the whole segment along to the worker.
    for (let at = 0; at < Math.max(1, bytes.length); at += bs) parts.push(bytes.length > bs ? bytes.slice(at, at + bs) : bytes);
    // On the stripe workers like data blocks: a big file's segment lists all its blocks, and
    // sealing and storing it here took the thread that serves FUSE 10-30 ms a commit.
    return this.#storeStripes(parts, BlockKind.Metadata);
  }

  /** Sealed on the stripe workers, which also write the shards bound for file stores, as packs (HeldStripe). */
  async #storeStripes(blocks: readonly Uint8Array[], kind: BlockKind): Promise<BlockRef[]> {
    const sealing = await Promise.allSettled(
      blocks.map((block) =>
        this.#engine.sealHeld(block, {
          ...this.#stripeKeys,
          kind,
          k: this.config.k,
          m: this.config.m,
          padTo: Math.min(padClass(block.length), this.config.blockSize),
        }),
      ),
    );
    const held = sealing.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = sealing.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return this.backend.putStripes(held);
    // Ends the holds of the ones that did seal; their shards are dropped.
    await this.#engine.settle(held.map((stripe) => ({ stripe, to: [] })), []).catch(() => undefined);
    throw failed.reason;
  }

  async #putHead(root: Root): Promise<void> {
    const seq = this.seq + 1;
    const body = encodeHead({ volumeId: this.config.id, epoch: this.epoch, seq, root: encodeRoot(root) }, this.keys);
    const results = await this.backend.each((s) => s.putHead({ volumeId: this.idHex, epoch: this.epoch, seq, body }), { quorum: true });
    const stale = results.find(
      (r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof StaleHeadError,
    );
    if (stale) {
      this.#fenced = new FencedError((stale.reason as Error).message);
      throw this.#fenced;
    }
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    if (accepted < this.backend.quorum) {
      throw new BackendError(`the new head was accepted by ${accepted} of ${results.length} stores`);
    }
    this.seq = seq;
  }

  async #statfs(): Promise<StatFs> {
    let capacity = 0;
    let used = 0;
    let unlimited = false;
    for (const r of await this.backend.each((s) => s.stat())) {
      if (r.status !== 'fulfilled') continue;
      used += r.value.used;
      if (r.value.capacity === null) unlimited = true;
      else capacity += r.value.capacity;
    }
    const bsize = 4096;
    const usable = (unlimited ? 2 ** 44 : capacity) * (this.config.k / (this.config.k + this.config.m));
    const total = Math.floor(usable / bsize);
    const free = Math.max(0, total - Math.ceil((used * this.config.k) / (this.config.k + this.config.m) / bsize));
    return { bsize, frsize: bsize, blocks: total, bfree: free, bavail: free, files: 2 ** 32, ffree: 2 ** 32 - this.fs.meta.inodes.size, favail: 2 ** 32 - this.fs.meta.inodes.size, namemax: 255 };
  }
}
