import { SHARD_ID_BYTES, type ShardId } from '../crypto/index.js';
import { MAX_SHARDS } from '../../erasure/index.js';
import { DescriptorFormatError } from './errors.js';
import { BlockKind, MAX_BLOCK_BYTES, STRIPE_FORMAT_VERSION } from './format.js';

/** Everything needed to read a stripe back, given its shards and the volume key. */
export interface StripeDescriptor {
  readonly version: number;
  readonly kind: BlockKind;
  readonly k: number;
  readonly m: number;
  /** Plaintext bytes of the block. */
  readonly length: number;
  /** Bytes encrypted: the block and its zero padding. */
  readonly paddedLength: number;
  /** n = k + m content addresses, shard i at index i. */
  readonly shardIds: readonly ShardId[];
}

const FIXED_BYTES = 14;

export function encodeDescriptor(d: StripeDescriptor): Uint8Array {
  const out = Buffer.alloc(FIXED_BYTES + SHARD_ID_BYTES * d.shardIds.length);
  out.writeUInt8(d.version, 0);
  out.writeUInt8(d.kind, 1);
  out.writeUInt16LE(d.k, 2);
  out.writeUInt16LE(d.m, 4);
  out.writeUInt32LE(d.length, 6);
  out.writeUInt32LE(d.paddedLength, 10);
  d.shardIds.forEach((id, i) => {
    out.write(id, FIXED_BYTES + i * SHARD_ID_BYTES, 'hex');
  });
  return out;
}

export function decodeDescriptor(bytes: Uint8Array): StripeDescriptor {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (b.length < FIXED_BYTES) throw new DescriptorFormatError(`${b.length} bytes is too short`);
  const version = b.readUInt8(0);
  if (version !== STRIPE_FORMAT_VERSION) {
    throw new DescriptorFormatError(`format version ${version}; this cairn reads version ${STRIPE_FORMAT_VERSION}`);
  }
  const kind = b.readUInt8(1);
  if (!(kind in BlockKind)) throw new DescriptorFormatError(`unknown block kind ${kind}`);
  const k = b.readUInt16LE(2);
  const m = b.readUInt16LE(4);
  const length = b.readUInt32LE(6);
  const paddedLength = b.readUInt32LE(10);
  if (k < 1 || k + m > MAX_SHARDS) throw new DescriptorFormatError(`impossible code ${k}+${m}`);
  if (paddedLength < length || paddedLength > MAX_BLOCK_BYTES) {
    throw new DescriptorFormatError(`impossible lengths ${length}/${paddedLength}`);
  }
  if (b.length !== FIXED_BYTES + SHARD_ID_BYTES * (k + m)) {
    throw new DescriptorFormatError(`${b.length} bytes, expected ${FIXED_BYTES + SHARD_ID_BYTES * (k + m)} for ${k}+${m}`);
  }
  const shardIds = Array.from({ length: k + m }, (_, i) =>
    b.toString('hex', FIXED_BYTES + i * SHARD_ID_BYTES, FIXED_BYTES + (i + 1) * SHARD_ID_BYTES),
  );
  return { version, kind, k, m, length, paddedLength, shardIds };
}
