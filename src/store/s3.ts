import { isShardId, type ShardId } from '../crypto/index.js';
import { StoreBase } from './base.js';
import { shortId } from './errors.js';
import type { VolumeRecords } from './records.js';
import { BucketObjects } from './s3-objects.js';
import { openRecords, type RecordsMode, type VolumeRecordsStore } from './s3-records.js';
import { type S3Credentials, type S3Location, S3Transport, type ServerClock, type TransportOptions } from './s3-transport.js';
import { KeyedSerial } from './serial.js';
import type { StoreStat } from './types.js';

export interface S3StoreOptions extends TransportOptions {
  /** `bucket:<name>`, the name the bucket was added under. */
  id: string;
  location: S3Location;
  credentials: S3Credentials;
}

const SHARDS = 'shards/';

const PAGE = 1000;

/**
 * Shards in an S3 bucket (any S3-compatible server), under the bucket's
 * prefix: `shards/<id>` for each shard, and per volume the records of
 * s3-records.ts. Keys hold only shard hashes and volume ids. Requests are
 * bounded, retried and reported as in s3-transport.ts; docs/BUCKETS.md has
 * the layout and the reasons.
 *
 * Opening costs nothing: the bucket is first asked when a store operation
 * needs it, so a volume can be opened while one of its buckets is down.
 */
export class S3Store extends StoreBase {
  readonly id: string;
  readonly #transport: S3Transport;
  readonly #objects: BucketObjects;
  #layout: Promise<VolumeRecordsStore> | undefined;
  /** One update of a volume's records at a time in this process; other processes are handled by the layout. */
  readonly #volumes = new KeyedSerial();

  constructor(options: S3StoreOptions) {
    super();
    this.id = options.id;
    this.#transport = new S3Transport(options.id, options.location, options.credentials, options);
    this.#objects = new BucketObjects(this.#transport);
  }

  get location(): S3Location {
    return this.#transport.location;
  }

  /** False while the bucket is failing (for placement: new stripes go around it). */
  get up(): boolean {
    return this.#transport.up;
  }

  /** How long the bucket has been failing (0 while it answers). */
  get downForMs(): number {
    return this.#transport.downForMs;
  }

  /** The server's clock from its latest answer. */
  get serverClock(): ServerClock | undefined {
    return this.#transport.clock;
  }

  /** How this bucket keeps heads and leases (decided on first use, then fixed in its layout record). */
  async recordsMode(): Promise<RecordsMode> {
    return (await this.#records(true))!.mode;
  }

  protected async putShard(id: ShardId, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.#objects.put(SHARDS + id, bytes, `shard ${shortId(id)}`, { signal });
  }

  protected async getShard(id: ShardId, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    return (await this.#objects.get(SHARDS + id, `shard ${shortId(id)}`, signal))?.bytes;
  }

  protected async hasShard(id: ShardId, signal?: AbortSignal): Promise<boolean> {
    return (await this.#objects.head(SHARDS + id, `shard ${shortId(id)}`, signal)) !== undefined;
  }

  protected deleteShard(id: ShardId, signal?: AbortSignal): Promise<void> {
    return this.#objects.delete(SHARDS + id, `shard ${shortId(id)}`, signal);
  }

  protected async listShards(after: ShardId | undefined, count: number, signal?: AbortSignal): Promise<ShardId[]> {
    const ids: ShardId[] = [];
    let marker = after === undefined ? undefined : SHARDS + after;
    while (ids.length < count) {
      const { entries, truncated } = await this.#objects.list(SHARDS, { after: marker, max: Math.min(PAGE, count - ids.length), signal });
      for (const { key } of entries) {
        const id = key.slice(SHARDS.length);
        if (isShardId(id)) ids.push(id);
      }
      if (!truncated || entries.length === 0) break;
      marker = entries[entries.length - 1].key;
    }
    return ids;
  }

  /** Counted from a listing every time: the bucket is shared, and S3 keeps no counters. */
  protected async statStore(signal?: AbortSignal): Promise<StoreStat> {
    let used = 0;
    let shards = 0;
    let marker: string | undefined;
    for (;;) {
      const { entries, truncated } = await this.#objects.list(SHARDS, { after: marker, max: PAGE, signal });
      for (const { key, size } of entries) {
        if (!isShardId(key.slice(SHARDS.length))) continue;
        used += size;
        shards++;
      }
      if (!truncated || entries.length === 0) return { capacity: null, used, shards };
      marker = entries[entries.length - 1].key;
    }
  }

  protected async readVolume(volumeId: string, signal?: AbortSignal): Promise<VolumeRecords> {
    // A bucket without a layout record has never held records: reading does not create one.
    const records = await this.#records(false);
    return records ? records.read(volumeId, signal) : {};
  }

  protected updateVolume(
    volumeId: string,
    decide: (held: VolumeRecords) => VolumeRecords | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.#volumes.run(volumeId, async () => (await this.#records(true))!.update(volumeId, decide, signal));
  }

  protected deleteVolume(volumeId: string, signal?: AbortSignal): Promise<void> {
    return this.#volumes.run(volumeId, async () => (await this.#records(false))?.remove(volumeId, signal));
  }

  protected async closeStore(): Promise<void> {
    this.#transport.destroy();
  }

  /**
   * The bucket's records layout, kept once known. Reading never creates it
   * (a bucket without one holds no records); the first write decides it. A
   * failed look is tried again by the next operation, and no caller's signal
   * cuts the shared look short for the others.
   */
  async #records(create: boolean): Promise<VolumeRecordsStore | undefined> {
    if (this.#layout) return this.#layout;
    if (!create) {
      const found = await openRecords(this.#objects, this.id, { create: false });
      if (found) this.#layout ??= Promise.resolve(found);
      return found;
    }
    const opening = openRecords(this.#objects, this.id, { create: true }).then((made) => made!);
    this.#layout = opening;
    opening.catch(() => {
      if (this.#layout === opening) this.#layout = undefined;
    });
    return opening;
  }
}
