import { hkdfSync } from 'node:crypto';

/**
 * Subkeys for separate purposes from one key, with HKDF-SHA256 (RFC 5869)
 * and the purpose as `info`. It plays the part of libsodium's crypto_kdf:
 * keys for different purposes are independent, and learning one tells
 * nothing of the parent or the others.
 */
export type KeyPurpose =
  | 'volume/encryption'
  | 'volume/head-signing'
  | 'volume/ids'
  | 'keyring/wrapping'
  | 'cluster/catalog'
  /** Seed of the Noise keypair every keyring holder uses to reach the peers. */
  | 'cluster/member'
  /** The hyperswarm topic the cluster's peers announce on. */
  | 'cluster/topic'
  /** Seals $CAIRN_HOME/buckets: bucket endpoints and their credentials. */
  | 'cluster/buckets';

export function deriveKey(parent: Uint8Array, purpose: KeyPurpose, length = 32): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', parent, new Uint8Array(0), `cairn/v1/${purpose}`, length));
}
