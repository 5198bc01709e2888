/**
 * Seals and opens stripes on worker threads, one per core, so a volume
 * flushing many blocks uses the whole machine: sealing is CPU-bound (AEAD,
 * Reed–Solomon, SHA-256) and one thread does ~0.5 GB/s here. Each worker runs
 * the same sealStripe/openStripe as the calling thread would.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InvalidCodeError } from '../../erasure/index.js';
import { AuthenticationError } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';
import type { StripeDescriptor } from './descriptor.js';
import { BlockTooLargeError, StripeUnrecoverableError } from './errors.js';
import type { OpenedStripe } from './open.js';
import type { ShardSource } from './sources.js';
import type { SealOptions, SealedStripe, StripeKeys } from './seal.js';
import type { PackTarget, WrittenPack } from '../store/packs.js';

type WireError = { name: string; message: string; stack?: string; [field: string]: unknown };

export type Request =
  /** `hold`: keep the shards on the worker until a settle names this request's id. */
  | { id: number; op: 'seal'; block: Uint8Array; options: SealOptions; hold?: boolean }
  /** Each stripe's shard i goes into the pack for packs[to[i]] (none where to[i] is -1). */
  | { id: number; op: 'settle'; stripes: readonly { held: number; ids: readonly string[]; to: readonly number[] }[]; packs: readonly PackTarget[] }
  | { id: number; op: 'open'; descriptor: StripeDescriptor; shards: readonly ShardSource[]; keys: StripeKeys }
  | { id: number; op: 'recycle'; buffer: ArrayBuffer };

export interface Reply {
  id: number;
  buffer?: ArrayBuffer;
  offset?: number;
  size?: number;
  descriptor?: StripeDescriptor;
  bad?: readonly number[];
  /** Per pack target of a settle: the pack written, or why not (undefined: no shard went there). */
  packs?: ({ pack: WrittenPack } | { error: WireError } | undefined)[];
  /** Stripes of a settle with a shard in no pack, by their place in the request, and where their shards are. */
  returned?: { index: number; buffer: ArrayBuffer; offset: number; size: number }[];
  error?: WireError;
}

/**
 * A stripe sealed on a worker thread whose shards stay there until settled.
 * The worker writes the shards that go to files itself, so the thread that
 * serves FUSE makes one round trip per group of stripes instead of file
 * system calls per shard (and receives no shard memory, which V8 would count
 * towards its next full collection); only what is left comes back.
 */
export interface HeldStripe {
  readonly descriptor: StripeDescriptor;
  /** Bytes of each shard. */
  readonly shardBytes: number;
  /** The engine holding it, whose settle ends the hold. */
  readonly settler: StripeSettler;
}

/** What a settle was asked for: a held stripe and, for each shard, the pack target it goes to (undefined: none). */
export interface Settling {
  stripe: HeldStripe;
  to: readonly (number | undefined)[];
}

export interface SettledStripes {
  /** The packs written, each with the index of its target (a target may get one pack per worker thread). */
  packs: { target: number; pack: WrittenPack }[];
  /** Packs that could not be written, by target. */
  failures: { target: number; error: Error }[];
  /**
   * Per stripe, in order: which shards are in a written pack, and the shards
   * themselves when some is not; or the error that lost them (their worker
   * failed), while the other workers' packs are still reported.
   */
  stripes: { written: boolean[]; sealed?: SealedStripe; error?: Error }[];
}

export interface StripeSettler {
  /**
   * Ends the hold of each stripe given (each exactly once, ever): its shards
   * go into one pack per target and worker (writePack, on the worker), and
   * the shards of every stripe with a shard left over come back here.
   */
  settle(stripes: readonly Settling[], packs: readonly PackTarget[]): Promise<SettledStripes>;
}

/** A worker died or could not start; the operation may be retried. */
export class StripeWorkerError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('stripe.worker-failed', message, options);
  }
}

// Errors a worker may throw on purpose, rebuilt as the same classes here.
const KNOWN: Record<string, { prototype: object }> = {
  AuthenticationError,
  StripeUnrecoverableError,
  BlockTooLargeError,
  InvalidCodeError,
};

/** The n shards of a stripe as views of the one buffer a worker sent. */
function shardsOf(reply: Reply, descriptor: StripeDescriptor): SealedStripe {
  const { buffer, offset = 0, size = 0 } = reply;
  const shards = Array.from({ length: descriptor.k + descriptor.m }, (_, i) => new Uint8Array(buffer!, offset + i * size, size));
  return { descriptor, shards, release: () => undefined, owned: true };
}

function revive(e: WireError): Error {
  const cls = KNOWN[e.name];
  return Object.assign(cls ? Object.create(cls.prototype) : new Error(e.message), e) as Error;
}

/** Under vitest this file runs from src/*.ts; workers then run the compiled copy that setup builds. */
function workerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts')
    ? new URL(here.replace(/\/src\/stripe\/engine\.ts$/, '/dist/src/stripe/worker.js'))
    : new URL('./worker.js', here);
}

interface Slot {
  worker: Worker;
  inflight: Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>;
}

export class StripeEngine implements StripeSettler {
  readonly threads: number;
  /** Where each held stripe is: the worker and the id of its seal there; gone once settled. */
  readonly #held = new WeakMap<HeldStripe, { slot: Slot; id: number }>();
  readonly #slots: (Slot | undefined)[];
  #nextId = 0;
  #closed = false;

  constructor(threads = availableParallelism()) {
    this.threads = Math.max(1, threads);
    this.#slots = new Array(this.threads).fill(undefined);
  }

  async seal(block: Uint8Array, options: SealOptions): Promise<SealedStripe> {
    // The block is copied to the worker (read in place when it is shared memory); the caller keeps it.
    const reply = await this.#call({ id: 0, op: 'seal', block, options });
    return shardsOf(reply, reply.descriptor!);
  }

  /** As seal, but the shards stay on the worker until settled (see HeldStripe); the caller must settle it. */
  async sealHeld(block: Uint8Array, options: SealOptions): Promise<HeldStripe> {
    const slot = this.#leastBusy();
    const reply = await this.#call({ id: 0, op: 'seal', block, options, hold: true }, [], slot);
    const held: HeldStripe = { descriptor: reply.descriptor!, shardBytes: reply.size!, settler: this };
    this.#held.set(held, { slot, id: reply.id });
    return held;
  }

  async settle(stripes: readonly Settling[], packs: readonly PackTarget[]): Promise<SettledStripes> {
    // Twice in one settle, a stripe's memory would be handed to two later seals on its worker.
    if (new Set(stripes.map(({ stripe }) => stripe)).size !== stripes.length) throw new StripeWorkerError('a stripe was given twice to one settle');
    const where = stripes.map(({ stripe }) => this.#held.get(stripe));
    if (where.some((w) => w === undefined)) {
      throw new StripeWorkerError('a stripe was settled already, or not held by this engine: its shards are gone from the worker');
    }
    for (const { stripe } of stripes) this.#held.delete(stripe);
    const result: SettledStripes = {
      packs: [],
      failures: [],
      stripes: stripes.map(({ stripe, to }) => ({ written: Array.from({ length: stripe.descriptor.k + stripe.descriptor.m }, (_, i) => to[i] !== undefined) })),
    };
    // One request per worker, for the stripes it holds: each writes its own packs.
    const bySlot = new Map<Slot, number[]>();
    where.forEach((w, i) => bySlot.set(w!.slot, [...(bySlot.get(w!.slot) ?? []), i]));
    const slots = [...bySlot];
    const settled = await Promise.allSettled(
      slots.map(async ([slot, indices]) => {
        const request = indices.map((i) => ({
          held: where[i]!.id,
          ids: stripes[i].stripe.descriptor.shardIds,
          to: stripes[i].to.map((t) => t ?? -1),
        }));
        const reply = await this.#call({ id: 0, op: 'settle', stripes: request, packs }, [], slot);
        (reply.packs ?? []).forEach((p, target) => {
          if (p && 'pack' in p) result.packs.push({ target, pack: p.pack });
          else if (p) {
            result.failures.push({ target, error: revive(p.error) });
            for (const i of indices) stripes[i].to.forEach((t, shard) => t === target && (result.stripes[i].written[shard] = false));
          }
        });
        for (const r of reply.returned ?? []) {
          const i = indices[r.index];
          result.stripes[i].sealed = shardsOf({ id: 0, ...r }, stripes[i].stripe.descriptor);
        }
      }),
    );
    settled.forEach((r, n) => {
      if (r.status === 'rejected') for (const i of slots[n][1]) result.stripes[i] = { written: result.stripes[i].written.fill(false), error: r.reason as Error };
    });
    return result;
  }

  /** Shards given as file paths are read on the worker (see openSources). */
  readonly readsFiles = true;

  /**
   * Shards that are the whole of their own ArrayBuffer move to the worker
   * rather than being copied: the caller must not use them afterwards.
   */
  async open(descriptor: StripeDescriptor, shards: readonly ShardSource[], keys: StripeKeys): Promise<OpenedStripe> {
    const moved = new Set<ArrayBuffer>();
    for (const s of shards) {
      if (s instanceof Uint8Array && s.buffer instanceof ArrayBuffer && s.byteOffset === 0 && s.byteLength === s.buffer.byteLength) moved.add(s.buffer);
    }
    const slot = this.#leastBusy();
    const reply = await this.#call({ id: 0, op: 'open', descriptor, shards, keys }, [...moved], slot);
    const block = new Uint8Array(reply.buffer!, reply.offset, reply.size);
    this.#opened.set(block, slot);
    return { block, bad: reply.bad ?? [] };
  }

  /** Blocks open() returned, each the only view of its buffer: those recycle may send away, to the worker that opened it. */
  readonly #opened = new WeakMap<Uint8Array, Slot>();

  /**
   * Gives up a block open() returned, once nothing will read it again (it
   * reads as empty from then on). Its buffer moves back to a worker thread:
   * V8 counts every ArrayBuffer a thread receives as that thread's external
   * memory until a collection, and runs a full collection of the thread's
   * heap for every 64 MiB of it, that is every 64 blocks read; a buffer sent
   * away is uncounted at once. Cold reads ran 12-16% faster with 12% less
   * CPU. There a later block is opened into it (stripe/spares.ts): back to
   * the worker that opened it, which opens the same share of the next ones.
   * Other blocks are left to the garbage collector.
   */
  recycle(block: Uint8Array): void {
    const opener = this.#opened.get(block);
    if (!opener || block.buffer.byteLength === 0) return;
    this.#opened.delete(block);
    const slot = this.#slots.includes(opener) ? opener : this.#slots.find((s) => s !== undefined);
    const buffer = block.buffer as ArrayBuffer;
    slot?.worker.postMessage({ id: 0, op: 'recycle', buffer } satisfies Request, [buffer]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map((s) => s?.worker.terminate()));
    this.#slots.fill(undefined);
  }

  /** On `slot` when given: a held stripe's settle must reach the worker that holds it, and fails if that one stopped. */
  #call(request: Request, transfer: ArrayBuffer[] = [], on?: Slot): Promise<Reply> {
    if (this.#closed) return Promise.reject(new StripeWorkerError('the stripe engine is closed'));
    if (on && !this.#slots.includes(on)) return Promise.reject(new StripeWorkerError('the stripe worker holding this stripe has stopped'));
    const slot = on ?? this.#leastBusy();
    const id = ++this.#nextId;
    return new Promise<Reply>((resolve, reject) => {
      slot.inflight.set(id, { resolve, reject });
      // Held open only while it has work, so an idle engine never keeps a process alive.
      slot.worker.ref();
      slot.worker.postMessage({ ...request, id }, transfer);
    });
  }

  #leastBusy(): Slot {
    let best = 0;
    for (let i = 0; i < this.threads; i++) {
      const slot = this.#slots[i];
      if (!slot) return this.#start(i);
      if (slot.inflight.size < (this.#slots[best]?.inflight.size ?? 0)) best = i;
    }
    return this.#slots[best]!;
  }

  #start(index: number): Slot {
    const worker = new Worker(workerUrl());
    worker.unref();
    const slot: Slot = { worker, inflight: new Map() };
    const fail = (err: Error) => {
      if (this.#slots[index] === slot) this.#slots[index] = undefined;
      for (const { reject } of slot.inflight.values()) reject(err);
      slot.inflight.clear();
    };
    worker.on('message', (reply: Reply) => {
      const pending = slot.inflight.get(reply.id);
      if (!pending) return;
      slot.inflight.delete(reply.id);
      if (slot.inflight.size === 0) worker.unref();
      if (reply.error) pending.reject(revive(reply.error));
      else pending.resolve(reply);
    });
    worker.on('error', (err) => fail(new StripeWorkerError(`stripe worker failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => {
      if (!this.#closed) fail(new StripeWorkerError(`stripe worker exited with code ${code}`));
    });
    this.#slots[index] = slot;
    return slot;
  }
}
