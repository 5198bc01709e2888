import sodium from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  WRAPPED_KEY_BYTES,
  deriveKey,
  newKey,
  signingKeyFromSeed,
  unwrapKey,
  verifySignature,
  volumeKeys,
  wrapKey,
} from '../../src/crypto/index.js';

beforeAll(async () => {
  await sodium.ready;
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const text = (s: string) => new TextEncoder().encode(s);

describe('key derivation', () => {
  it('gives independent, repeatable subkeys per purpose', () => {
    const key = newKey();
    const a = volumeKeys(key);
    const b = volumeKeys(key);
    expect(hex(a.encryption)).toBe(hex(b.encryption));
    expect(hex(a.headSigning.publicKey)).toBe(hex(b.headSigning.publicKey));
    const all = [a.encryption, a.ids, deriveKey(key, 'keyring/wrapping'), key].map(hex);
    expect(new Set(all).size).toBe(4);
    expect(hex(volumeKeys(newKey()).encryption)).not.toBe(hex(a.encryption));
  });
});

describe('Ed25519 signing', () => {
  it('makes the same keys and signatures as libsodium, and each verifies the other', () => {
    const seed = newKey();
    const ours = signingKeyFromSeed(seed);
    const theirs = sodium.crypto_sign_seed_keypair(seed);
    expect(hex(ours.publicKey)).toBe(hex(theirs.publicKey));
    const message = text('volume head: epoch 3 seq 17');
    const signature = ours.sign(message);
    expect(sodium.crypto_sign_verify_detached(signature, message, theirs.publicKey)).toBe(true);
    const theirSignature = sodium.crypto_sign_detached(message, theirs.privateKey);
    expect(hex(theirSignature)).toBe(hex(signature));
    expect(verifySignature(ours.publicKey, message, theirSignature)).toBe(true);
  });

  it('rejects altered messages, signatures and wrong keys', () => {
    const key = signingKeyFromSeed(newKey());
    const message = text('seq 1');
    const signature = key.sign(message);
    expect(verifySignature(key.publicKey, text('seq 2'), signature)).toBe(false);
    const bad = signature.slice();
    bad[10] ^= 4;
    expect(verifySignature(key.publicKey, message, bad)).toBe(false);
    expect(verifySignature(signingKeyFromSeed(newKey()).publicKey, message, signature)).toBe(false);
    expect(verifySignature(key.publicKey, message, signature.subarray(0, 63))).toBe(false);
  });
});

describe('key wrapping', () => {
  const master = newKey();
  const volumeKey = newKey();
  const volumeId = text('vol-0123456789ab');

  it('round-trips and never contains the key in clear', () => {
    const wrapped = wrapKey(master, volumeKey, volumeId);
    expect(wrapped.length).toBe(WRAPPED_KEY_BYTES);
    expect(Buffer.from(wrapped).includes(Buffer.from(volumeKey))).toBe(false);
    expect(hex(unwrapKey(master, wrapped, volumeId))).toBe(hex(volumeKey));
  });

  it('refuses the wrong master key, another context, altered or truncated bytes', () => {
    const wrapped = wrapKey(master, volumeKey, volumeId);
    expect(() => unwrapKey(newKey(), wrapped, volumeId)).toThrowError(AuthenticationError);
    expect(() => unwrapKey(master, wrapped, text('vol-other'))).toThrowError(AuthenticationError);
    const bad = wrapped.slice();
    bad[40] ^= 1;
    expect(() => unwrapKey(master, bad, volumeId)).toThrowError(AuthenticationError);
    expect(() => unwrapKey(master, wrapped.subarray(0, 30), volumeId)).toThrowError(AuthenticationError);
  });
});
