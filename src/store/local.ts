import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Level } from 'level';
import { shardId, type ShardId } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';
import { StoreBase } from './base.js';
import { StoreUnavailableError } from './errors.js';
import { decodeHead, decodeLease, encodeHead, encodeLease, type VolumeRecords } from './records.js';
import { Serial } from './serial.js';
import type { StoreStat } from './types.js';
import { type Counts, Usage } from './usage.js';

export interface LocalStoreOptions {
  /** Default: the random `local-…` id made when the directory was first opened. */
  id?: string;
  /** Bytes of shards accepted in all; unlimited when absent. Not stored: give it at every open. */
  capacity?: number;
  /**
   * fsync every write before put/delete resolves (default true), so an
   * acknowledged shard survives power loss, not only a crash of the process.
   */
  sync?: boolean;
}

/**
 * Shards live under their ids; these keys start with `~`, which sorts after
 * every hex digit, so they can never be a shard id and stay outside the range
 * list() reads.
 */
const META_KEY = '~meta';
const HEAD_PREFIX = '~head/';
const LEASE_PREFIX = '~lease/';
const FIRST_ID = '0'.repeat(64);
const LAST_ID = 'f'.repeat(64);
const FORMAT = 1;

interface Meta extends Counts {
  format: number;
  id: string;
}

type Db = Level<string, Uint8Array>;

/**
 * Shards in a LevelDB directory (through `level`). The directory holds the
 * shards' bytes under their ids, one counter record, and the volumes' heads
 * and leases, nothing else; see docs/STORES.md for the layout. One process
 * at a time (LevelDB locks the directory); FileStore is the shared one.
 */
export class LocalStore extends StoreBase {
  readonly id: string;
  readonly dir: string;
  readonly #db: Db;
  readonly #defaultId: string;
  readonly #usage: Usage;
  readonly #sync: boolean;
  readonly #writes = new Serial();

  private constructor(db: Db, dir: string, meta: Meta, options: LocalStoreOptions) {
    super();
    this.id = options.id ?? meta.id;
    this.dir = dir;
    this.#db = db;
    this.#defaultId = meta.id;
    this.#usage = new Usage(this.id, options.capacity, meta);
    this.#sync = options.sync ?? true;
  }

  /** Opens (creating when missing) the store in `dir`. One process, one open store per directory. */
  static async open(dir: string, options: LocalStoreOptions = {}): Promise<LocalStore> {
    const location = resolve(dir);
    // Without an explicit id the store is known by its directory, so naming it once is enough.
    const refuse: Refuse = (reason, cause) =>
      options.id === undefined
        ? new StoreUnavailableError(location, reason, { cause })
        : new StoreUnavailableError(options.id, `${reason} (directory ${location})`, { cause });
    // Shards are ciphertext: Snappy would only spend time failing to shrink them.
    const { Level } = await import('level');
    const db: Db = new Level(location, { keyEncoding: 'utf8', valueEncoding: 'view', compression: false });
    try {
      await db.open();
    } catch (error) {
      throw openError(refuse, error);
    }
    try {
      const meta = (await readMeta(db, refuse)) ?? (await createMeta(db, refuse));
      return new LocalStore(db, location, meta, options);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  protected putShard(id: ShardId, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    return this.#write(async () => {
      signal?.throwIfAborted();
      const old = await this.#db.get(id);
      // An intact copy needs no write; a damaged one is overwritten, so a re-put heals it.
      if (old !== undefined && shardId(old) === id) return;
      const counts = this.#usage.afterPut(old?.length, bytes.length);
      signal?.throwIfAborted();
      await this.#db.batch([{ type: 'put', key: id, value: bytes }, this.#metaPut(counts)], { sync: this.#sync });
      this.#usage.set(counts);
    });
  }

  protected getShard(id: ShardId): Promise<Uint8Array | undefined> {
    return this.#guard(this.#db.get(id));
  }

  protected hasShard(id: ShardId): Promise<boolean> {
    return this.#guard(this.#db.has(id));
  }

  protected deleteShard(id: ShardId, signal?: AbortSignal): Promise<void> {
    return this.#write(async () => {
      signal?.throwIfAborted();
      const old = await this.#db.get(id);
      if (old === undefined) return;
      const counts = this.#usage.afterDelete(old.length);
      await this.#db.batch([{ type: 'del', key: id }, this.#metaPut(counts)], { sync: this.#sync });
      this.#usage.set(counts);
    });
  }

  protected listShards(after: ShardId | undefined, count: number, signal?: AbortSignal): Promise<ShardId[]> {
    const start = after === undefined ? { gte: FIRST_ID } : { gt: after };
    return this.#guard(this.#db.keys({ ...start, lte: LAST_ID, limit: count, signal }).all());
  }

  protected async statStore(): Promise<StoreStat> {
    return this.#usage.stat();
  }

  protected readVolume(volumeId: string): Promise<VolumeRecords> {
    return this.#guard(this.#readVolume(volumeId));
  }

  // In the write queue, so the read, the rules and the write are one step for every writer in this process.
  protected updateVolume(
    volumeId: string,
    decide: (held: VolumeRecords) => VolumeRecords | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.#write(async () => {
      signal?.throwIfAborted();
      const change = decide(await this.#readVolume(volumeId));
      if (change === undefined) return;
      const puts = [];
      if (change.head) puts.push({ type: 'put' as const, key: HEAD_PREFIX + volumeId, value: encodeHead(change.head) });
      if (change.lease) {
        puts.push({ type: 'put' as const, key: LEASE_PREFIX + volumeId, value: encodeLease(change.lease) });
      }
      await this.#db.batch(puts, { sync: this.#sync });
    });
  }

  protected deleteVolume(volumeId: string, signal?: AbortSignal): Promise<void> {
    return this.#write(async () => {
      signal?.throwIfAborted();
      await this.#db.batch(
        [HEAD_PREFIX + volumeId, LEASE_PREFIX + volumeId].map((key) => ({ type: 'del' as const, key })),
        { sync: this.#sync },
      );
    });
  }

  async #readVolume(volumeId: string): Promise<VolumeRecords> {
    const [head, lease] = await this.#db.getMany([HEAD_PREFIX + volumeId, LEASE_PREFIX + volumeId]);
    return {
      head: head && decodeHead(this.id, volumeId, head),
      lease: lease && decodeLease(this.id, volumeId, lease),
    };
  }

  protected closeStore(): Promise<void> {
    return this.#guard(this.#db.close());
  }

  /**
   * Writes run one at a time: each reads the counters, changes them and
   * writes them back in the same batch as the shard, so they stay exact; and
   * a head or lease update is a compare-and-set no other write can split.
   */
  #write(work: () => Promise<void>): Promise<void> {
    return this.#guard(this.#writes.run(work));
  }

  #metaPut(counts: Counts) {
    const meta: Meta = { format: FORMAT, id: this.#defaultId, ...counts };
    return { type: 'put' as const, key: META_KEY, value: encodeMeta(meta) };
  }

  /** LevelDB's own failures (I/O errors, a full disk) become one typed error naming the directory. */
  #guard<T>(work: Promise<T>): Promise<T> {
    return work.catch((error: unknown) => {
      if (error instanceof CairnError) throw error;
      throw new StoreUnavailableError(this.id, `LevelDB in ${this.dir} failed: ${innermost(error)}`, { cause: error });
    });
  }
}

type Refuse = (reason: string, cause?: unknown) => StoreUnavailableError;

function openError(refuse: Refuse, error: unknown): StoreUnavailableError {
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return code === 'LEVEL_LOCKED'
    ? refuse(
        'its directory is already open in another process (or elsewhere in this one); ' +
          'a directory serves one store at a time',
        error,
      )
    : refuse(`cannot open its directory: ${innermost(error)}`, error);
}

/** LevelDB's errors wrap the useful one (an I/O error naming the file). */
function innermost(error: unknown): string {
  let inner = error;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  return inner instanceof Error ? inner.message : String(inner);
}

async function readMeta(db: Db, refuse: Refuse): Promise<Meta | undefined> {
  const bytes = await db.get(META_KEY);
  if (bytes === undefined) return undefined;
  let meta: Partial<Meta>;
  try {
    meta = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<Meta>;
  } catch (error) {
    throw refuse('its counter record is damaged', error);
  }
  if (meta.format !== FORMAT) {
    throw refuse(`its directory holds store format ${meta.format}; this Cairn reads format ${FORMAT}`);
  }
  return meta as Meta;
}

async function createMeta(db: Db, refuse: Refuse): Promise<Meta> {
  // Refuse to adopt someone else's LevelDB: its keys would be counted as nothing and listed as shards.
  const [anyKey] = await db.keys({ limit: 1 }).all();
  if (anyKey !== undefined) {
    throw refuse('its directory holds a LevelDB database that is not a Cairn shard store');
  }
  const meta: Meta = { format: FORMAT, id: `local-${randomBytes(6).toString('hex')}`, used: 0, shards: 0 };
  await db.put(META_KEY, encodeMeta(meta), { sync: true });
  return meta;
}

function encodeMeta(meta: Meta): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}
