import sumo from 'libsodium-wrappers-sumo';
import { describe, expect, it } from 'vitest';
import {
  KEYRING_BYTES,
  KeyringFormatError,
  MIN_KDF,
  WrongPassphraseError,
  createKeyring,
  encodeKeyring,
  openKeyring,
} from '../../src/crypto/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const PATH = '/home/u/.cairn/keyring';

describe('keyring file', () => {
  it('opens with the right passphrase and keeps the key out of the file', async () => {
    const { keyring, bytes } = await createKeyring('correct horse', MIN_KDF);
    expect(bytes.length).toBe(KEYRING_BYTES);
    expect(Buffer.from(bytes).includes(Buffer.from(keyring.masterKey))).toBe(false);
    const opened = await openKeyring(bytes, 'correct horse', PATH);
    expect(hex(opened.masterKey)).toBe(hex(keyring.masterKey));
    expect(hex(opened.clusterId)).toBe(hex(keyring.clusterId));
    expect(opened.kdf).toEqual(MIN_KDF);
  });

  it('a keyring sealed by an independent libsodium build (WebAssembly) opens: the KDF is Argon2id as docs/FORMAT.md says', async () => {
    // Built here byte by byte from the format, with libsodium.js doing Argon2id and the AEAD.
    await sumo.ready;
    const header = Buffer.alloc(76);
    header.write('CAIRNKEY', 0, 'ascii');
    header.writeUInt8(1, 8);
    header.writeUInt8(1, 9);
    header.writeUInt32LE(2, 12);
    header.writeUInt32LE(8 * 1024, 16);
    header.fill(0x5a, 20, 36);
    header.fill(0xc1, 36, 52);
    header.fill(0x07, 52, 76);
    const masterKey = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
    const stretched = sumo.crypto_pwhash(32, 'correct horse', header.subarray(20, 36), 2, 8 * 2 ** 20, sumo.crypto_pwhash_ALG_ARGON2ID13);
    const sealed = sumo.crypto_aead_xchacha20poly1305_ietf_encrypt(masterKey, header, null, header.subarray(52, 76), stretched);
    const opened = await openKeyring(Buffer.concat([header, sealed]), 'correct horse', PATH);
    expect(hex(opened.masterKey)).toBe(hex(masterKey));
    expect(hex(opened.clusterId)).toBe('c1'.repeat(16));
    expect(opened.kdf).toEqual({ ops: 2, memoryBytes: 8 * 2 ** 20 });
    await expect(openKeyring(Buffer.concat([header, sealed]), 'correct hose', PATH)).rejects.toThrowError(WrongPassphraseError);
  });

  it('a wrong passphrase is a WrongPassphraseError naming the file', async () => {
    const { bytes } = await createKeyring('correct horse', MIN_KDF);
    await expect(openKeyring(bytes, 'correct hose', PATH)).rejects.toThrowError(WrongPassphraseError);
    await expect(openKeyring(bytes, '', PATH)).rejects.toThrowError(`wrong passphrase for the keyring at ${PATH}`);
  });

  it('the same passphrase typed in another Unicode form still opens it', async () => {
    const { bytes } = await createKeyring('caf\u00e9', MIN_KDF);
    await expect(openKeyring(bytes, 'cafe\u0301', PATH)).resolves.toBeTruthy();
  });

  it('re-encoding under a new passphrase keeps the keys and drops the old passphrase', async () => {
    const { keyring, bytes } = await createKeyring('old', MIN_KDF);
    const again = await encodeKeyring(keyring, 'new');
    expect(hex(again)).not.toBe(hex(bytes));
    expect(hex((await openKeyring(again, 'new', PATH)).masterKey)).toBe(hex(keyring.masterKey));
    await expect(openKeyring(again, 'old', PATH)).rejects.toThrowError(WrongPassphraseError);
  });

  it('an altered header byte (cluster id, salt, parameters) does not open', async () => {
    const { bytes } = await createKeyring('pw', MIN_KDF);
    for (const at of [13, 25, 40, 60, KEYRING_BYTES - 1]) {
      const bad = Uint8Array.from(bytes);
      bad[at] ^= 1;
      await expect(openKeyring(bad, 'pw', PATH), `byte ${at}`).rejects.toThrowError(/wrong passphrase|not a usable/);
    }
  });

  it('files that are not keyrings get a KeyringFormatError saying why', async () => {
    const { bytes } = await createKeyring('pw', MIN_KDF);
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('hello world, not a keyring'), /keyring magic/],
      [bytes.subarray(0, 100), /100 bytes long/],
      [Uint8Array.from(bytes).fill(2, 8, 9), /format version 2; this cairn reads version 1/],
      [Uint8Array.from(bytes).fill(0xff, 16, 20), /Argon2id memory/],
      [Uint8Array.from(bytes).fill(7, 9, 10), /unknown KDF 7/],
    ];
    for (const [file, message] of cases) {
      await expect(openKeyring(file, 'pw', PATH)).rejects.toThrowError(KeyringFormatError);
      await expect(openKeyring(file, 'pw', PATH)).rejects.toThrowError(message);
    }
  });

  it('refuses weak KDF parameters when writing', async () => {
    await expect(createKeyring('pw', { ops: 1, memoryBytes: 1 << 20 })).rejects.toThrowError(/Argon2id memory/);
    await expect(createKeyring('pw', { ops: 0, memoryBytes: 8 << 20 })).rejects.toThrowError(/passes/);
  });
});
