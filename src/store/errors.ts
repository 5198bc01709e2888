import { CairnError } from '../errors/index.js';
import type { ShardId } from '../crypto/index.js';

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
