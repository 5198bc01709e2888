import { CairnError } from '../errors/index.js';
import type { ShardId } from '../crypto/index.js';
import type { HeadRecord, LeaseRecord } from './types.js';

/** Enough of a shard id to find it in logs without drowning the message. */
export function shortId(id: ShardId): string {
  return `${id.slice(0, 12)}…`;
}

export class ShardNotFoundError extends CairnError {
  constructor(
    readonly storeId: string,
    readonly shardId: ShardId,
  ) {
    super('store.not-found', `shard ${shortId(shardId)} is not on store ${storeId}`);
  }
}

/**
 * Bytes that do not hash to their shard id: either a caller handed a store the
 * wrong bytes (nothing is stored), or a stored copy rotted (read another copy
 * and repair this one).
 */
export class ShardCorruptError extends CairnError {
  constructor(
    readonly storeId: string,
    readonly shardId: ShardId,
    message: string,
  ) {
    super('store.corrupt', message);
  }
}

export class StoreFullError extends CairnError {
  constructor(
    readonly storeId: string,
    readonly capacity: number,
    readonly used: number,
    readonly needed: number,
  ) {
    super(
      'store.full',
      `store ${storeId} is full: ${used} of ${capacity} bytes used, ` +
        `a ${needed}-byte shard does not fit; place it on another store or free space`,
    );
  }
}

/** The store cannot serve at all: closed, locked by another process, unreadable. */
export class StoreUnavailableError extends CairnError {
  constructor(
    readonly storeId: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super('store.unavailable', `store ${storeId} is unavailable: ${reason}`, options);
  }
}

/** The caller's AbortSignal fired; `cause` is the signal's reason (a TimeoutError for AbortSignal.timeout). */
export class OperationAbortedError extends CairnError {
  constructor(storeId: string, operation: string, reason: unknown) {
    const why = reason instanceof Error ? reason.message : String(reason);
    super('store.aborted', `${operation} on store ${storeId} was aborted: ${why}`, { cause: reason });
  }
}

export class InvalidShardIdError extends CairnError {
  constructor(
    readonly storeId: string,
    readonly value: unknown,
  ) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : String(value);
    super(
      'store.invalid-id',
      `${shown} is not a shard id (64 lowercase hex characters), given to store ${storeId}`,
    );
  }
}

/** A head or lease (or a volume id) that breaks the record rules in docs/STORES.md; nothing was stored. */
export class InvalidRecordError extends CairnError {
  constructor(
    readonly storeId: string,
    detail: string,
  ) {
    super('store.invalid-record', `${detail}, given to store ${storeId}`);
  }
}

/**
 * A lease refused because another mount holds the volume at this epoch or a
 * later one. `current` says who and until when (by the holder's clock), so
 * the caller can report it or, once it has expired, take over with a higher epoch.
 */
export class LeaseConflictError extends CairnError {
  constructor(
    readonly storeId: string,
    readonly attempted: LeaseRecord,
    readonly current: LeaseRecord,
  ) {
    const { holder, epoch, expiresAtMs } = current;
    const state =
      expiresAtMs === 0
        ? `${JSON.stringify(holder)} released it at epoch ${epoch}; take over with an epoch above ${epoch}`
        : `${JSON.stringify(holder)} holds it at epoch ${epoch} until ${when(expiresAtMs)}; ` +
          `once that has passed, take over with an epoch above ${epoch}`;
    super(
      'store.lease-conflict',
      `lease on volume ${shortId(current.volumeId)} for ${JSON.stringify(attempted.holder)} ` +
        `at epoch ${attempted.epoch} refused by store ${storeId}: ${state}`,
    );
  }
}

/**
 * A head refused by fencing (its epoch is older than one the store has seen:
 * a newer writer took over) or because it does not move the head forward.
 * `currentEpoch` is the highest epoch the store has seen for the volume (from
 * its lease or its head); `currentSeq` is the seq of the head it holds, null
 * when it holds none.
 */
export class StaleHeadError extends CairnError {
  readonly volumeId: string;
  readonly epoch: number;
  readonly seq: number;

  constructor(
    readonly storeId: string,
    refused: HeadRecord,
    readonly currentEpoch: number,
    readonly currentSeq: number | null,
    readonly why: string,
  ) {
    super(
      'store.stale-head',
      `head epoch ${refused.epoch} seq ${refused.seq} of volume ${shortId(refused.volumeId)} ` +
        `refused by store ${storeId}: ${why}`,
    );
    this.volumeId = refused.volumeId;
    this.epoch = refused.epoch;
    this.seq = refused.seq;
  }
}

/** Dates cannot show every safe integer; the raw number then still says it all. */
function when(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms after 1970` : date.toISOString();
}
