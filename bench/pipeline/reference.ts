/**
 * The stripe format built from the named packages used as-is:
 * libsodium-wrappers for XChaCha20-Poly1305, the reed-solomon-erasure wasm
 * build for coding, and the same SHA-256 shard ids. It writes and reads the
 * very bytes of docs/FORMAT.md, so it is both the pipeline benchmark's
 * baseline and an independent check of our stripe code (tests open each
 * side's stripes with the other).
 */
import type Sodium from 'libsodium-wrappers';
import { NONCE_BYTES, shardId } from '../../src/crypto/index.js';
import {
  SHARD_HEADER_BYTES,
  STRIPE_FORMAT_VERSION,
  type SealOptions,
  type SealedStripe,
  type StripeDescriptor,
  type StripeKeys,
  StripeUnrecoverableError,
} from '../../src/stripe/index.js';
import { checkReference, referenceCodec } from '../erasure/reference.js';

// Loaded by baselineReady, not with the module graph: every `cairn` command imports the bench
// commands, and a mount has no use for a second libsodium in its heap.
let sodium: typeof Sodium;

export async function baselineReady(): Promise<void> {
  sodium ??= (await import('libsodium-wrappers')).default;
  await sodium.ready;
}

const AD_LABEL = new TextEncoder().encode('cairn-stripe');

function ad(volumeId: Uint8Array, kind: number): Uint8Array {
  return Uint8Array.from([...AD_LABEL, STRIPE_FORMAT_VERSION, kind, ...volumeId]);
}

export function baselineSeal(block: Uint8Array, o: SealOptions): SealedStripe {
  const { k, m } = o;
  const pad = o.padTo ?? 1;
  const paddedLength = Math.ceil(block.length / pad) * pad;
  const padded = new Uint8Array(paddedLength);
  padded.set(block);
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(padded, ad(o.volumeId, o.kind), null, nonce, o.key);
  const body = Math.ceil((NONCE_BYTES + ct.length) / k);
  const all = new Uint8Array(body * (k + m));
  all.set(nonce);
  all.set(ct, NONCE_BYTES);
  checkReference(referenceCodec().encode(all, k, m));
  const shards = Array.from({ length: k + m }, (_, i) => {
    const shard = new Uint8Array(SHARD_HEADER_BYTES + body);
    shard[0] = STRIPE_FORMAT_VERSION;
    shard[1] = i;
    shard.set(all.subarray(i * body, (i + 1) * body), SHARD_HEADER_BYTES);
    return shard;
  });
  const descriptor: StripeDescriptor = {
    version: STRIPE_FORMAT_VERSION,
    kind: o.kind,
    k,
    m,
    length: block.length,
    paddedLength,
    shardIds: shards.map(shardId),
  };
  return { shards, descriptor, release: () => undefined };
}

export function baselineOpen(
  d: StripeDescriptor,
  shards: readonly (Uint8Array | null | undefined)[],
  keys: StripeKeys,
): Uint8Array {
  const n = d.k + d.m;
  const body = Math.ceil((NONCE_BYTES + d.paddedLength + 16) / d.k);
  const all = new Uint8Array(body * n);
  const present = new Array<boolean>(n).fill(false);
  let good = 0;
  for (let i = 0; i < n && good < d.k; i++) {
    const s = shards[i];
    if (s && s.length === SHARD_HEADER_BYTES + body && s[1] === i && shardId(s) === d.shardIds[i]) {
      all.set(s.subarray(SHARD_HEADER_BYTES), i * body);
      present[i] = true;
      good++;
    }
  }
  if (good < d.k) throw new StripeUnrecoverableError(good, d.k, n, []);
  if (present.slice(0, d.k).some((p) => !p)) checkReference(referenceCodec().reconstruct(all, d.k, d.m, present));
  const nonce = all.subarray(0, NONCE_BYTES);
  const sealed = all.subarray(NONCE_BYTES, NONCE_BYTES + d.paddedLength + 16);
  const plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed, ad(keys.volumeId, d.kind), nonce, keys.key);
  return plain.subarray(0, d.length);
}
