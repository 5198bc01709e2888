/**
 * Store errors across the wire: the peer sends the error's code and the
 * fields the client needs to rebuild the same typed error under its own
 * store id; anything else arrives as PeerError with the peer's message.
 */
import type { ShardId } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';
import {
  InvalidRecordError,
  InvalidShardIdError,
  LeaseConflictError,
  ShardCorruptError,
  ShardNotFoundError,
  StaleHeadError,
  StoreFullError,
  StoreUnavailableError,
  type HeadRecord,
  type LeaseRecord,
} from '../store/index.js';
import type { Meta } from './frame.js';

/** The peer answered with an error that is not one of the store's own. */
export class PeerError extends CairnError {
  constructor(
    readonly peer: string,
    message: string,
  ) {
    super('peer.error', `peer ${peer}: ${message}`);
  }
}

export function errorMeta(err: unknown): Meta {
  if (err instanceof StoreFullError) return { code: err.code, capacity: err.capacity, used: err.used, needed: err.needed, message: err.message };
  if (err instanceof LeaseConflictError) return { code: err.code, attempted: err.attempted, current: err.current, message: err.message };
  if (err instanceof StaleHeadError) {
    return { code: err.code, currentEpoch: err.currentEpoch, currentSeq: err.currentSeq, why: err.why, message: err.message };
  }
  if (err instanceof CairnError) return { code: err.code, message: err.message };
  // Not ours: say what failed without passing on internals.
  return { code: 'peer.internal', message: err instanceof Error ? err.message : String(err) };
}

export interface RequestContext {
  storeId: string;
  shardId?: ShardId;
  head?: HeadRecord;
  lease?: LeaseRecord;
}

export function errorFromMeta(meta: Meta, ctx: RequestContext): Error {
  const message = typeof meta.message === 'string' ? meta.message : 'no message';
  const { storeId, shardId } = ctx;
  switch (meta.code) {
    case 'store.not-found':
      if (shardId) return new ShardNotFoundError(storeId, shardId);
      break;
    case 'store.corrupt':
      if (shardId) return new ShardCorruptError(storeId, shardId, message.replaceAll(/store \S+/g, `store ${storeId}`));
      break;
    case 'store.full':
      return new StoreFullError(storeId, Number(meta.capacity), Number(meta.used), Number(meta.needed));
    case 'store.lease-conflict':
      if (ctx.lease) return new LeaseConflictError(storeId, ctx.lease, meta.current as LeaseRecord);
      break;
    case 'store.stale-head':
      if (ctx.head) {
        return new StaleHeadError(storeId, ctx.head, Number(meta.currentEpoch), meta.currentSeq as number | null, String(meta.why));
      }
      break;
    case 'store.invalid-record':
      return new InvalidRecordError(storeId, message);
    case 'store.invalid-id':
      return new InvalidShardIdError(storeId, shardId);
    case 'store.unavailable':
      return new StoreUnavailableError(storeId, `the peer's disk store: ${message}`);
  }
  return new PeerError(storeId, message);
}
