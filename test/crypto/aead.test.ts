import sodium from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, open, seal, sealInPlace } from '../../src/crypto/index.js';
import { hchacha20 } from '../../src/crypto/hchacha20.js';
import { CairnError } from '../../src/errors/index.js';
import { TEST_SEED, randomBytes, randomInt, rng } from '../helpers/random.js';

beforeAll(async () => {
  await sodium.ready;
});

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
const LENGTHS = [0, 1, 15, 16, 63, 64, 65, 1000, 16 * 1024, 16 * 1024 + 1, (1 << 20) + 1];

describe('HChaCha20', () => {
  it('matches the draft-irtf-cfrg-xchacha test vector (2.2.1)', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const nonce = Buffer.from('000000090000004a0000000031415927', 'hex');
    expect(Buffer.from(hchacha20(key, nonce)).toString('hex')).toBe(
      '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc',
    );
  });
});

describe(`XChaCha20-Poly1305 is libsodium's, byte for byte (seed ${TEST_SEED})`, () => {
  const next = rng();
  for (const withAd of [false, true]) {
    it.each(LENGTHS)(`%i bytes ${withAd ? 'with' : 'without'} associated data, both directions`, (length) => {
      const key = randomBytes(next, 32);
      const nonce = randomBytes(next, 24);
      const message = randomBytes(next, length);
      const ad = withAd ? randomBytes(next, randomInt(next, 1, 100)) : new Uint8Array(0);
      const ours = seal(key, nonce, message, ad);
      const theirs = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(message, withAd ? ad : null, null, nonce, key);
      expect(same(ours, theirs)).toBe(true);
      expect(same(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ours, withAd ? ad : null, nonce, key), message)).toBe(
        true,
      );
      expect(same(open(key, nonce, theirs, ad), message)).toBe(true);
      // In place, inside a larger buffer (as the journal seals its records): the same bytes, nothing outside touched.
      const roomy = randomBytes(next, length + 40);
      const before = Uint8Array.from(roomy);
      const inside = roomy.subarray(7, 7 + length + 16);
      inside.set(message);
      sealInPlace(key, nonce, inside, ad);
      expect(same(inside, theirs)).toBe(true);
      expect(same(roomy.subarray(0, 7), before.subarray(0, 7))).toBe(true);
      expect(same(roomy.subarray(7 + length + 16), before.subarray(7 + length + 16))).toBe(true);
    });
  }

  it('sealInPlace refuses a buffer without room for the tag, and bad key or nonce lengths', () => {
    const key = new Uint8Array(32);
    const nonce = new Uint8Array(24);
    expect(() => sealInPlace(key, nonce, new Uint8Array(15))).toThrowError(/room for the 16-byte tag/);
    expect(() => sealInPlace(key.subarray(1), nonce, new Uint8Array(16))).toThrowError(/key must be 32 bytes/);
    expect(() => sealInPlace(key, nonce.subarray(1), new Uint8Array(16))).toThrowError(/nonce must be 24 bytes/);
  });
});

describe('tampering is an AuthenticationError', () => {
  const next = rng(TEST_SEED + 1);
  const key = randomBytes(next, 32);
  const nonce = randomBytes(next, 24);
  const message = randomBytes(next, 200);
  const ad = new TextEncoder().encode('volume 1');
  const sealed = seal(key, nonce, message, ad);

  const fails = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return err;
    }
    throw new Error('expected a failure');
  };

  it('wrong key', () => {
    const wrong = key.slice();
    wrong[0] ^= 1;
    const err = fails(() => open(wrong, nonce, sealed, ad));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toBeInstanceOf(CairnError);
    expect((err as CairnError).code).toBe('crypto.authentication');
  });

  it('wrong associated data, or none', () => {
    expect(fails(() => open(key, nonce, sealed, new TextEncoder().encode('volume 2')))).toBeInstanceOf(
      AuthenticationError,
    );
    expect(fails(() => open(key, nonce, sealed))).toBeInstanceOf(AuthenticationError);
  });

  it('wrong nonce', () => {
    const wrong = nonce.slice();
    wrong[23] ^= 0x80;
    expect(fails(() => open(key, wrong, sealed, ad))).toBeInstanceOf(AuthenticationError);
  });

  it('a flipped bit at every byte position of ciphertext and tag', () => {
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice();
      bad[i] ^= 1 << (i % 8);
      expect(fails(() => open(key, nonce, bad, ad)), `byte ${i}`).toBeInstanceOf(AuthenticationError);
    }
  });

  it('truncated or empty input', () => {
    expect(fails(() => open(key, nonce, sealed.subarray(0, sealed.length - 1), ad))).toBeInstanceOf(
      AuthenticationError,
    );
    expect(fails(() => open(key, nonce, new Uint8Array(5), ad))).toBeInstanceOf(AuthenticationError);
  });
});
