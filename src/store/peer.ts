/**
 * A ShardStore on a storage peer, over its PeerLink. Arguments are checked
 * and copied here, before anything is sent; the peer applies the head and
 * lease rules with its own store; bytes coming back are checked against
 * their id here, so a peer that answers with garbage is caught by the reader.
 */
import { type ShardId, shardId } from '../crypto/index.js';
import { errorFromMeta, type RequestContext } from '../peer/errors.js';
import type { Meta } from '../peer/frame.js';
import { Op } from '../peer/frame.js';
import type { PeerLink, Response } from '../peer/client.js';
import { UsageError } from '../errors/index.js';
import { DEFAULT_LIST_LIMIT } from './base.js';
import { ShardCorruptError, shortId } from './errors.js';
import { OperationGate, checkShardId } from './gate.js';
import { checkVolumeId, ownHead, ownLease } from './records.js';
import type { HeadRecord, LeaseRecord, ListOptions, ListPage, ShardStore, StoreOptions, StoreStat } from './types.js';

export interface PeerStat extends StoreStat {
  zone: string;
}

export class PeerStore implements ShardStore {
  readonly id: string;
  readonly #link: PeerLink;
  readonly #gate: OperationGate;

  constructor(link: PeerLink) {
    this.#link = link;
    this.id = link.storeId;
    this.#gate = new OperationGate(() => this.id);
  }

  get up(): boolean {
    return this.#link.up;
  }

  get downForMs(): number {
    return this.#link.downForMs;
  }

  async #call(op: Op, name: string, meta: Meta, body: Uint8Array | undefined, options: StoreOptions | undefined, ctx: Omit<RequestContext, 'storeId'> = {}): Promise<Response> {
    return this.#gate.run(name, options, async (signal) => {
      try {
        return await this.#link.request(op, meta, body, { signal });
      } catch (err) {
        const meta = (err as { meta?: Meta }).meta;
        throw meta ? errorFromMeta(meta, { storeId: this.id, ...ctx }) : err;
      }
    });
  }

  async put(id: ShardId, bytes: Uint8Array, options?: StoreOptions): Promise<void> {
    checkShardId(this.id, id);
    const verify = options?.verify !== false;
    // The caller may reuse `bytes` once we return; the frame is written from a copy (unless the caller gave them up).
    const owned = verify ? new Uint8Array(bytes) : bytes;
    if (verify && shardId(owned) !== id) {
      throw new ShardCorruptError(this.id, id, `the ${owned.length} bytes given as shard ${shortId(id)} do not hash to it; nothing was sent to ${this.id}`);
    }
    await this.#call(Op.Put, `put of shard ${shortId(id)}`, { id }, owned, options, { shardId: id });
  }

  async get(id: ShardId, options?: StoreOptions): Promise<Uint8Array> {
    checkShardId(this.id, id);
    const { body } = await this.#call(Op.Get, `get of shard ${shortId(id)}`, { id }, undefined, options, { shardId: id });
    if (options?.verify !== false && shardId(body) !== id) {
      throw new ShardCorruptError(this.id, id, `peer ${this.id} answered for shard ${shortId(id)} with bytes that do not match it; read another copy and repair this one`);
    }
    return body;
  }

  async has(id: ShardId, options?: StoreOptions): Promise<boolean> {
    checkShardId(this.id, id);
    return (await this.#call(Op.Has, `has of shard ${shortId(id)}`, { id }, undefined, options, { shardId: id })).meta.has === true;
  }

  async delete(id: ShardId, options?: StoreOptions): Promise<void> {
    checkShardId(this.id, id);
    await this.#call(Op.Delete, `delete of shard ${shortId(id)}`, { id }, undefined, options, { shardId: id });
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    const { after, limit = DEFAULT_LIST_LIMIT } = options;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`list limit must be a positive integer, not ${limit}`);
    if (after !== undefined) checkShardId(this.id, after);
    const { meta } = await this.#call(Op.List, 'list', { after, limit }, undefined, options);
    return meta.next === undefined ? { ids: meta.ids as ShardId[] } : { ids: meta.ids as ShardId[], next: meta.next as ShardId };
  }

  async stat(options?: StoreOptions): Promise<StoreStat> {
    const { capacity, used, shards } = await this.statWithZone(options);
    return { capacity, used, shards };
  }

  /** stat() and the zone the peer was started in. */
  async statWithZone(options?: StoreOptions): Promise<PeerStat> {
    const { meta } = await this.#call(Op.Stat, 'stat', {}, undefined, options);
    return { capacity: meta.capacity as number | null, used: meta.used as number, shards: meta.shards as number, zone: String(meta.zone) };
  }

  async putHead(head: HeadRecord, options?: StoreOptions): Promise<void> {
    const owned = ownHead(this.id, head);
    const { volumeId, epoch, seq, body } = owned;
    await this.#call(Op.PutHead, `put of the head of volume ${shortId(volumeId)}`, { volumeId, epoch, seq }, body, options, { head: owned });
  }

  async getHead(volumeId: string, options?: StoreOptions): Promise<HeadRecord | undefined> {
    checkVolumeId(this.id, volumeId);
    const { meta, body } = await this.#call(Op.GetHead, `get of the head of volume ${shortId(volumeId)}`, { volumeId }, undefined, options);
    return meta.found ? { volumeId, epoch: meta.epoch as number, seq: meta.seq as number, body } : undefined;
  }

  async putLease(lease: LeaseRecord, options?: StoreOptions): Promise<void> {
    const owned = ownLease(this.id, lease);
    await this.#call(Op.PutLease, `put of the lease of volume ${shortId(owned.volumeId)}`, { lease: owned }, undefined, options, { lease: owned });
  }

  async getLease(volumeId: string, options?: StoreOptions): Promise<LeaseRecord | undefined> {
    checkVolumeId(this.id, volumeId);
    const { meta } = await this.#call(Op.GetLease, `get of the lease of volume ${shortId(volumeId)}`, { volumeId }, undefined, options);
    return (meta.lease as LeaseRecord | null) ?? undefined;
  }

  async deleteRecords(volumeId: string, options?: StoreOptions): Promise<void> {
    checkVolumeId(this.id, volumeId);
    await this.#call(Op.DeleteRecords, `delete of the records of volume ${shortId(volumeId)}`, { volumeId }, undefined, options);
  }

  /** Asks the peer to re-hash one page of what it holds; damaged shards are deleted there and named here. */
  async scrub(after?: ShardId, options?: StoreOptions): Promise<{ checked: number; bad: ShardId[]; next?: ShardId }> {
    const { meta } = await this.#call(Op.Scrub, 'scrub', { after }, undefined, { ...options });
    return meta as { checked: number; bad: ShardId[]; next?: ShardId };
  }

  /** The peer's SHA-256 over `nonce` and bytes offset..offset+length of shard `id`. */
  async audit(id: ShardId, nonce: Uint8Array, offset: number, length: number, options?: StoreOptions): Promise<string> {
    checkShardId(this.id, id);
    const { meta } = await this.#call(Op.Audit, `audit of shard ${shortId(id)}`, { id, nonce: Buffer.from(nonce).toString('hex'), offset, length }, undefined, options, { shardId: id });
    return String(meta.digest);
  }

  close(): Promise<void> {
    // The link belongs to the network, which closes it; this store only stops taking operations.
    return this.#gate.close(async () => undefined);
  }
}
