/**
 * The keyring file: the cluster id and the master key, the latter sealed
 * under a key stretched from the passphrase with Argon2id (libsodium's
 * crypto_pwhash). Byte layout in docs/FORMAT.md ("Keyring file").
 */
import { randomBytes } from 'node:crypto';
import { sodium } from './sodium.js';
import { KEY_BYTES, NONCE_BYTES, TAG_BYTES, open, randomNonce, seal } from './aead.js';
import { AuthenticationError, KeyringFormatError, WrongPassphraseError } from './errors.js';
import { newKey } from './keys.js';

export const KEYRING_MAGIC = 'CAIRNKEY';
export const KEYRING_VERSION = 1;
const KDF_ARGON2ID13 = 1;
const SALT_BYTES = 16;
export const CLUSTER_ID_BYTES = 16;
const HEADER_BYTES = 8 + 1 + 1 + 2 + 4 + 4 + SALT_BYTES + CLUSTER_ID_BYTES + NONCE_BYTES;
export const KEYRING_BYTES = HEADER_BYTES + KEY_BYTES + TAG_BYTES;

export interface KdfParams {
  /** Argon2id passes (libsodium's opslimit). */
  readonly ops: number;
  /** Argon2id memory in bytes (libsodium's memlimit); stored in KiB. */
  readonly memoryBytes: number;
}

/** ~0.2 s on one core here; unlocking is once per command, guessing is 64 MiB a try. */
export const DEFAULT_KDF: KdfParams = { ops: 3, memoryBytes: 64 * 2 ** 20 };
export const MIN_KDF: KdfParams = { ops: 1, memoryBytes: 8 * 2 ** 20 };
/** Refuse to even try files asking for more: a hostile keyring must not exhaust memory. */
const MAX_KDF: KdfParams = { ops: 64, memoryBytes: 4 * 2 ** 30 };

export interface Keyring {
  readonly clusterId: Uint8Array;
  readonly masterKey: Uint8Array;
  readonly kdf: KdfParams;
}

/**
 * libsodium itself, natively (sodium-native) and off the event loop: about
 * twice as fast as its WebAssembly build, and the Argon2 memory is freed
 * afterwards, where the WebAssembly build kept it (64 MiB by default) for as
 * long as the process ran, a mount's whole life.
 */
async function stretch(passphrase: string, salt: Uint8Array, kdf: KdfParams): Promise<Uint8Array> {
  const out = new Uint8Array(KEY_BYTES);
  const passwd = Buffer.from(passphrase.normalize('NFC'));
  const { crypto_pwhash_async, crypto_pwhash_ALG_ARGON2ID13 } = sodium();
  await crypto_pwhash_async(out, passwd, salt, kdf.ops, kdf.memoryBytes, crypto_pwhash_ALG_ARGON2ID13);
  return out;
}

export function checkKdf(kdf: KdfParams): void {
  if (!Number.isInteger(kdf.ops) || kdf.ops < MIN_KDF.ops || kdf.ops > MAX_KDF.ops) {
    throw new RangeError(`Argon2id passes must be ${MIN_KDF.ops}..${MAX_KDF.ops}, got ${kdf.ops}`);
  }
  if (kdf.memoryBytes % 1024 !== 0 || kdf.memoryBytes < MIN_KDF.memoryBytes || kdf.memoryBytes > MAX_KDF.memoryBytes) {
    throw new RangeError(
      `Argon2id memory must be a whole number of KiB from ${MIN_KDF.memoryBytes / 2 ** 20} MiB to ${MAX_KDF.memoryBytes / 2 ** 30} GiB`,
    );
  }
}

/** The file bytes for `keyring` under `passphrase`, with a fresh salt and nonce. */
export async function encodeKeyring(keyring: Keyring, passphrase: string): Promise<Uint8Array> {
  checkKdf(keyring.kdf);
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomNonce();
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(KEYRING_MAGIC, 0, 'latin1');
  header.writeUInt8(KEYRING_VERSION, 8);
  header.writeUInt8(KDF_ARGON2ID13, 9);
  header.writeUInt32LE(keyring.kdf.ops, 12);
  header.writeUInt32LE(keyring.kdf.memoryBytes / 1024, 16);
  header.set(salt, 20);
  header.set(keyring.clusterId, 20 + SALT_BYTES);
  header.set(nonce, 20 + SALT_BYTES + CLUSTER_ID_BYTES);
  const sealed = seal(await stretch(passphrase, salt, keyring.kdf), nonce, keyring.masterKey, header);
  return Buffer.concat([header, sealed]);
}

export async function createKeyring(
  passphrase: string,
  kdf: KdfParams = DEFAULT_KDF,
): Promise<{ keyring: Keyring; bytes: Uint8Array }> {
  const keyring = { clusterId: randomBytes(CLUSTER_ID_BYTES), masterKey: newKey(), kdf };
  return { keyring, bytes: await encodeKeyring(keyring, passphrase) };
}

/** `path` is only for messages. Throws KeyringFormatError or WrongPassphraseError. */
export async function openKeyring(bytes: Uint8Array, passphrase: string, path: string): Promise<Keyring> {
  const file = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (file.length < 9 || file.toString('latin1', 0, 8) !== KEYRING_MAGIC) {
    throw new KeyringFormatError(path, 'it does not start with the keyring magic "CAIRNKEY"');
  }
  const version = file.readUInt8(8);
  if (version !== KEYRING_VERSION) {
    throw new KeyringFormatError(path, `format version ${version}; this cairn reads version ${KEYRING_VERSION}`);
  }
  if (file.length !== KEYRING_BYTES) {
    throw new KeyringFormatError(path, `it is ${file.length} bytes long, a version 1 keyring is ${KEYRING_BYTES}`);
  }
  if (file.readUInt8(9) !== KDF_ARGON2ID13) throw new KeyringFormatError(path, `unknown KDF ${file.readUInt8(9)}`);
  const kdf = { ops: file.readUInt32LE(12), memoryBytes: file.readUInt32LE(16) * 1024 };
  try {
    checkKdf(kdf);
  } catch (err) {
    throw new KeyringFormatError(path, (err as Error).message);
  }
  const salt = file.subarray(20, 20 + SALT_BYTES);
  const clusterId = new Uint8Array(file.subarray(20 + SALT_BYTES, 20 + SALT_BYTES + CLUSTER_ID_BYTES));
  const nonce = file.subarray(HEADER_BYTES - NONCE_BYTES, HEADER_BYTES);
  try {
    const masterKey = open(
      await stretch(passphrase, salt, kdf),
      nonce,
      file.subarray(HEADER_BYTES),
      file.subarray(0, HEADER_BYTES),
    );
    return { clusterId, masterKey, kdf };
  } catch (err) {
    // An altered header also lands here; with an AEAD the two cannot be told apart.
    if (err instanceof AuthenticationError) throw new WrongPassphraseError(path);
    throw err;
  }
}
