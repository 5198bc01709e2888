import { randomBytes } from 'node:crypto';
import { KEY_BYTES, NONCE_BYTES, TAG_BYTES, open, randomNonce, seal } from './aead.js';
import { AuthenticationError } from './errors.js';
import { deriveKey } from './kdf.js';
import { type SigningKey, signingKeyFromSeed } from './sign.js';

/**
 * The key hierarchy below the keyring's master key:
 *
 *   master key ──HKDF "keyring/wrapping"──> wrapping key ──wraps──> volume key (random, one per volume)
 *   volume key ──HKDF "volume/encryption"──> block encryption key
 *              ──HKDF "volume/head-signing"──> Ed25519 seed for the volume head
 *              ──HKDF "volume/ids"──> key for opaque ids (names a store may see)
 */
export function newKey(): Uint8Array {
  return randomBytes(KEY_BYTES);
}

export interface VolumeKeys {
  readonly encryption: Uint8Array;
  readonly headSigning: SigningKey;
  readonly ids: Uint8Array;
}

export function volumeKeys(volumeKey: Uint8Array): VolumeKeys {
  return {
    encryption: deriveKey(volumeKey, 'volume/encryption'),
    headSigning: signingKeyFromSeed(deriveKey(volumeKey, 'volume/head-signing')),
    ids: deriveKey(volumeKey, 'volume/ids'),
  };
}

/** Bytes of a wrapped key: nonce (24) || sealed key (32) || tag (16). */
export const WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES;
const WRAP_AD_PREFIX = new TextEncoder().encode('cairn/v1/wrapped-key:');

const wrapAd = (context: Uint8Array) => Buffer.concat([WRAP_AD_PREFIX, context]);

/**
 * Seals a key under the master key. `context` (e.g. the volume id) is bound
 * in, so a wrapped key cannot be passed off as another volume's.
 */
export function wrapKey(masterKey: Uint8Array, key: Uint8Array, context: Uint8Array): Uint8Array {
  const nonce = randomNonce();
  const sealed = seal(deriveKey(masterKey, 'keyring/wrapping'), nonce, key, wrapAd(context));
  return Buffer.concat([nonce, sealed]);
}

/** Throws AuthenticationError for a wrong master key, wrong context or altered bytes. */
export function unwrapKey(masterKey: Uint8Array, wrapped: Uint8Array, context: Uint8Array): Uint8Array {
  if (wrapped.length !== WRAPPED_KEY_BYTES) throw new AuthenticationError('wrapped key');
  return open(
    deriveKey(masterKey, 'keyring/wrapping'),
    wrapped.subarray(0, NONCE_BYTES),
    wrapped.subarray(NONCE_BYTES),
    wrapAd(context),
    'wrapped key',
  );
}
