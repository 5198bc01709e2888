import { type ShardId, randomNonce, sealTo, shardId } from '../crypto/index.js';
import { ReedSolomon, uninitialized } from '../../erasure/index.js';
import type { StripeDescriptor } from './descriptor.js';
import { BlockTooLargeError } from './errors.js';
import {
  type BlockKind,
  MAX_BLOCK_BYTES,
  SHARD_HEADER_BYTES,
  STRIPE_FORMAT_VERSION,
  associatedData,
  payloadBytes,
  shardBytes,
  spans,
} from './format.js';

export interface StripeKeys {
  /** The volume's opaque id, bound into every stripe's associated data. */
  readonly volumeId: Uint8Array;
  /** The volume's block encryption key. */
  readonly key: Uint8Array;
}

export interface SealOptions extends StripeKeys {
  readonly kind: BlockKind;
  readonly k: number;
  readonly m: number;
  /**
   * Pad the block with zeros to a multiple of this many bytes before
   * encrypting, so shard sizes do not give away the block's true length.
   */
  readonly padTo?: number;
}

export interface SealedStripe {
  readonly descriptor: StripeDescriptor;
  /** n shards, shard i at index i; their ids are in the descriptor. */
  readonly shards: Uint8Array[];
}

/** Appends bytes across the bodies in order. */
function writer(bodies: readonly Uint8Array[]): (bytes: Uint8Array) => void {
  let body = 0;
  let at = 0;
  return (bytes) => {
    let from = 0;
    while (from < bytes.length) {
      const target = bodies[body];
      const n = Math.min(target.length - at, bytes.length - from);
      target.set(bytes.subarray(from, from + n), at);
      from += n;
      at += n;
      if (at === target.length) {
        body++;
        at = 0;
      }
    }
  };
}

/**
 * A block becomes n shards: encrypted with a fresh random nonce, coded k+m,
 * each shard named by its hash. All shards are views into one buffer, and
 * the ciphertext is written straight into the data shards.
 */
export function sealStripe(block: Uint8Array, options: SealOptions): SealedStripe {
  const { k, m } = options;
  const codec = ReedSolomon.for(k, m);
  const pad = options.padTo ?? 1;
  const paddedLength = Math.ceil(block.length / pad) * pad;
  if (paddedLength > MAX_BLOCK_BYTES) throw new BlockTooLargeError(block.length, MAX_BLOCK_BYTES);

  const size = shardBytes(paddedLength, k);
  const buffer = uninitialized(size * (k + m));
  const shards = Array.from({ length: k + m }, (_, i) => {
    const shard = buffer.subarray(i * size, (i + 1) * size);
    shard[0] = STRIPE_FORMAT_VERSION;
    shard[1] = i;
    return shard;
  });
  const bodies = shards.map((s) => s.subarray(SHARD_HEADER_BYTES));
  const data = bodies.slice(0, k);
  // The payload rarely fills the data bodies exactly; the rest must be zeros, not stale memory.
  for (const tail of spans(data, payloadBytes(paddedLength), k * (size - SHARD_HEADER_BYTES))) tail.fill(0);

  const write = writer(data);
  const nonce = randomNonce();
  write(nonce);
  const plaintext = paddedLength > block.length ? [block, new Uint8Array(paddedLength - block.length)] : [block];
  sealTo(options.key, nonce, plaintext, associatedData(options.volumeId, options.kind), write);
  codec.encode(data, bodies.slice(k));

  const shardIds: ShardId[] = shards.map(shardId);
  return {
    shards,
    descriptor: {
      version: STRIPE_FORMAT_VERSION,
      kind: options.kind,
      k,
      m,
      length: block.length,
      paddedLength,
      shardIds,
    },
  };
}

