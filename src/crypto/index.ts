export {
  KEY_BYTES,
  NONCE_BYTES,
  type Sink,
  TAG_BYTES,
  open,
  openInto,
  randomNonce,
  randomNonceInto,
  seal,
  sealInPlace,
  sealInto,
  sealTo,
} from './aead.js';
export { AuthenticationError, KeyringFormatError, WrongPassphraseError } from './errors.js';
export { SHARD_ID_BYTES, type ShardId, isShardId, shardId } from './hash.js';
export { hashHelperEnabled, hashOnHelper, useHashHelper } from './hash-helper.js';
export { type KeyPurpose, deriveKey } from './kdf.js';
export {
  CLUSTER_ID_BYTES,
  DEFAULT_KDF,
  KEYRING_BYTES,
  type KdfParams,
  type Keyring,
  MIN_KDF,
  checkKdf,
  createKeyring,
  encodeKeyring,
  openKeyring,
} from './keyring.js';
export { type VolumeKeys, WRAPPED_KEY_BYTES, newKey, unwrapKey, volumeKeys, wrapKey } from './keys.js';
export { SIGNATURE_BYTES, type SigningKey, signingKeyFromSeed, verifySignature } from './sign.js';
