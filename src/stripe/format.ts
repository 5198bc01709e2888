/**
 * The bytes of a sealed stripe (docs/FORMAT.md, "Stripe"):
 *
 *   payload = nonce (24) || XChaCha20-Poly1305(padded block) (padded + 16)
 *   payload, zero-filled to k equal bodies, is Reed–Solomon coded into n bodies
 *   shard i = version (1) || i (1) || body i
 */
import { NONCE_BYTES, TAG_BYTES } from '../crypto/index.js';

export const STRIPE_FORMAT_VERSION = 1;
export const SHARD_HEADER_BYTES = 2;
/** Blocks are volume blocks (a few MiB); the cap keeps hostile descriptors from asking for huge buffers. */
export const MAX_BLOCK_BYTES = 256 * 2 ** 20;

export enum BlockKind {
  /** File contents. */
  Data = 0,
  /** Filesystem metadata: checkpoints, journal segments, the catalog. */
  Metadata = 1,
}

const AD_LABEL = new TextEncoder().encode('cairn-stripe');

/** What the AEAD binds besides the block: this format, the kind of block, and the volume. */
export function associatedData(volumeId: Uint8Array, kind: BlockKind): Uint8Array {
  const ad = new Uint8Array(AD_LABEL.length + 2 + volumeId.length);
  ad.set(AD_LABEL);
  ad[AD_LABEL.length] = STRIPE_FORMAT_VERSION;
  ad[AD_LABEL.length + 1] = kind;
  ad.set(volumeId, AD_LABEL.length + 2);
  return ad;
}

export function payloadBytes(paddedLength: number): number {
  return NONCE_BYTES + paddedLength + TAG_BYTES;
}

/** Bytes of one shard, header included. */
export function shardBytes(paddedLength: number, k: number): number {
  return SHARD_HEADER_BYTES + Math.ceil(payloadBytes(paddedLength) / k);
}

/** Views of bytes [from, to) of the bodies laid end to end: no copying. */
export function spans(bodies: readonly Uint8Array[], from: number, to: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let base = 0;
  for (const body of bodies) {
    const start = Math.max(from - base, 0);
    const end = Math.min(to - base, body.length);
    if (start < end) out.push(body.subarray(start, end));
    base += body.length;
    if (base >= to) break;
  }
  return out;
}
