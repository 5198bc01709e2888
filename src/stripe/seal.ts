import { hashHelperEnabled, randomNonce, sealTo } from '../crypto/index.js';
import { ReedSolomon } from '../../erasure/index.js';
import type { StripeDescriptor } from './descriptor.js';
import { BlockTooLargeError } from './errors.js';
import { ShardIds, borrowShared, giveBackShared } from './ids.js';
import { takeSpare } from './spares.js';
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
  /**
   * Optional: hands the shards' memory back for the next seal once they are
   * stored (stores copy what they keep). The shards must not be used after.
   * Skipping it is safe; reuse only spares the page faults of fresh memory.
   */
  readonly release: () => void;
  /**
   * The shards are fresh memory that nothing will write again, and their ids
   * were computed from them here: stores may keep them as given, without
   * hashing or copying them again (StoreOptions.verify false).
   */
  readonly owned?: boolean;
}

/** Appends bytes across the bodies in order, calling `filled(i)` as body i gets its last byte. */
function writer(bodies: readonly Uint8Array[], filled: (i: number) => void): (bytes: Uint8Array) => void {
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
        filled(body);
        body++;
        at = 0;
      }
    }
  };
}

/**
 * A block becomes n shards: encrypted with a fresh random nonce, coded k+m,
 * each shard named by its hash. All shards are views into one buffer, and
 * the ciphertext is written straight into the data shards. When the hash
 * helper is on, that buffer is shared memory and each data shard is hashed on
 * the helper thread as soon as its last byte is written, while this thread
 * encrypts the next one.
 */
export async function sealStripe(block: Uint8Array, options: SealOptions): Promise<SealedStripe> {
  const { k, m } = options;
  const codec = ReedSolomon.for(k, m);
  const pad = options.padTo ?? 1;
  const paddedLength = Math.ceil(block.length / pad) * pad;
  if (paddedLength > MAX_BLOCK_BYTES) throw new BlockTooLargeError(block.length, MAX_BLOCK_BYTES);

  const size = shardBytes(paddedLength, k);
  const buffer = hashHelperEnabled() ? borrowShared(size * (k + m)) : takeSpare(size * (k + m));
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

  const ids = new ShardIds(k + m);
  const hashed = new Array<boolean>(k).fill(false);
  const write = writer(data, (i) => {
    hashed[i] = true;
    ids.offload([i], shards);
  });
  const nonce = randomNonce();
  write(nonce);
  const plaintext = paddedLength > block.length ? [block, new Uint8Array(paddedLength - block.length)] : [block];
  sealTo(options.key, nonce, plaintext, associatedData(options.volumeId, options.kind), write);
  // Data shards the payload did not reach (tiny blocks, large k) are all zeros but still need ids.
  ids.offload(
    hashed.flatMap((done, i) => (done ? [] : [i])),
    shards,
  );
  codec.encode(data, bodies.slice(k));
  // The helper is nearly done with the data shards by now: give it the first parity shard too.
  ids.offload(m > 0 ? [k] : [], shards);
  ids.here(
    Array.from({ length: Math.max(0, m - 1) }, (_, i) => k + 1 + i),
    shards,
  );
  const shardIds = await ids.all();
  let released = false;
  return {
    shards,
    release: () => {
      if (!released) giveBackShared(buffer);
      released = true;
    },
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

