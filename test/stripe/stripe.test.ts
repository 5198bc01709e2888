import { describe, expect, it } from 'vitest';
import { ReedSolomon } from '../../erasure/index.js';
import { AuthenticationError, newKey, shardId } from '../../src/crypto/index.js';
import {
  BlockKind,
  DescriptorFormatError,
  type SealOptions,
  StripeUnrecoverableError,
  decodeDescriptor,
  encodeDescriptor,
  openStripe,
  sealStripe,
} from '../../src/stripe/index.js';
import { TEST_SEED, randomBytes, randomInt, rng, subsetsUpTo } from '../helpers/random.js';

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
const keys = { volumeId: Uint8Array.from({ length: 16 }, (_, i) => i), key: newKey() };
const options = (k: number, m: number, extra: Partial<SealOptions> = {}): SealOptions => ({
  ...keys,
  kind: BlockKind.Data,
  k,
  m,
  ...extra,
});
const drop = (shards: readonly Uint8Array[], lost: readonly number[]) =>
  shards.map((s, i) => (lost.includes(i) ? null : s));

describe(`seal -> open round trip (seed ${TEST_SEED})`, () => {
  const next = rng();

  it.each([
    [2, 1],
    [3, 2],
    [4, 2],
    [1, 2],
  ])('RS(%i,%i): every pattern of up to m losses, blocks of 0 B to 200 KiB', (k, m) => {
    for (const length of [0, 1, 23, 24, 40, 1000, 200 * 1024 + 3]) {
      const block = randomBytes(next, length);
      const { shards, descriptor } = sealStripe(block, options(k, m));
      expect(shards).toHaveLength(k + m);
      for (const lost of subsetsUpTo(k + m, m)) {
        const { block: back, bad } = openStripe(descriptor, drop(shards, lost), keys);
        expect(same(back, block), `${length} bytes, lost [${lost}]`).toBe(true);
        expect(bad).toEqual([]);
      }
    }
  });

  it('RS(10,4) and RS(4,2) with multi-MiB blocks, sampled patterns', () => {
    for (const [k, m, length] of [
      [4, 2, 4 * 2 ** 20],
      [10, 4, 3 * 2 ** 20 + 5],
    ]) {
      const block = randomBytes(next, length);
      const { shards, descriptor } = sealStripe(block, options(k, m));
      for (let t = 0; t < 6; t++) {
        const lost = new Set<number>();
        while (lost.size < m) lost.add(randomInt(next, 0, k + m - 1));
        expect(same(openStripe(descriptor, drop(shards, [...lost]), keys).block, block)).toBe(true);
      }
    }
  });

  it('m+1 losses is a clear error, never wrong bytes', () => {
    const { shards, descriptor } = sealStripe(randomBytes(next, 5000), options(4, 2));
    const attempt = () => openStripe(descriptor, drop(shards, [0, 2, 5]), keys);
    expect(attempt).toThrowError(StripeUnrecoverableError);
    expect(attempt).toThrowError('stripe unreadable: 3 of 6 shards usable, 4 needed');
  });

  it('every shard is named by its hash, and the descriptor round-trips through bytes', () => {
    const { shards, descriptor } = sealStripe(randomBytes(next, 777), options(3, 2));
    shards.forEach((s, i) => {
      expect(descriptor.shardIds[i]).toBe(shardId(s));
    });
    expect(decodeDescriptor(encodeDescriptor(descriptor))).toEqual(descriptor);
  });

  it('padding hides the block length from shard sizes', () => {
    const a = sealStripe(randomBytes(next, 1), options(4, 2, { padTo: 65536 }));
    const b = sealStripe(randomBytes(next, 65536), options(4, 2, { padTo: 65536 }));
    expect(a.shards[0].length).toBe(b.shards[0].length);
    expect(openStripe(a.descriptor, a.shards, keys).block.length).toBe(1);
  });

  it('sealing the same block twice gives unrelated shards (random nonce)', () => {
    const block = randomBytes(next, 4096);
    const a = sealStripe(block, options(4, 2));
    const b = sealStripe(block, options(4, 2));
    expect(a.descriptor.shardIds.some((id) => b.descriptor.shardIds.includes(id))).toBe(false);
  });
});

describe('bad shards and tampering', () => {
  const next = rng(TEST_SEED + 1);
  const block = randomBytes(next, 10_000);
  const sealed = sealStripe(block, options(4, 2));

  it('a corrupted shard is skipped by its hash, used shards reported', () => {
    const shards = sealed.shards.map((s) => s.slice());
    shards[1][100] ^= 0x20;
    const { block: back, bad } = openStripe(sealed.descriptor, shards, keys);
    expect(same(back, block)).toBe(true);
    expect(bad).toEqual([1]);
  });

  it('shards in the wrong slots, truncated or with a wrong header are rejected', () => {
    const s = sealed.shards;
    const given = [s[1], s[0], s[2].subarray(0, 50), s[3], s[4], s[5]];
    expect(() => openStripe(sealed.descriptor, given, keys)).toThrowError(/3 of 6 shards usable, 4 needed; rejected as corrupt: shard 0, 1, 2/);
    const relabelled = s[5].slice();
    relabelled[1] = 4;
    const out = openStripe(sealed.descriptor, [s[0], null, s[2], s[3], relabelled, s[5]], keys);
    expect(out.bad).toEqual([4]);
    expect(same(out.block, block)).toBe(true);
  });

  it('more than m bad shards: an error listing them', () => {
    const shards = sealed.shards.map((s) => s.slice());
    for (const i of [0, 3, 4]) shards[i][20] ^= 1;
    expect(() => openStripe(sealed.descriptor, shards, keys)).toThrowError(StripeUnrecoverableError);
    try {
      openStripe(sealed.descriptor, shards, keys);
    } catch (err) {
      expect((err as StripeUnrecoverableError).bad).toEqual([0, 3, 4]);
    }
  });

  it('ciphertext altered with consistent parity and ids still fails authentication', () => {
    // A forger who could also rewrite the descriptor: the AEAD is the last line.
    const { k, m } = sealed.descriptor;
    const shards = sealed.shards.map((s) => s.slice());
    shards[2][500] ^= 1;
    ReedSolomon.for(k, m).encode(
      shards.slice(0, k).map((s) => s.subarray(2)),
      shards.slice(k).map((s) => s.subarray(2)),
    );
    const forged = { ...sealed.descriptor, shardIds: shards.map(shardId) };
    expect(() => openStripe(forged, shards, keys)).toThrowError(AuthenticationError);
  });

  it('the wrong key, volume or block kind fails authentication', () => {
    expect(() => openStripe(sealed.descriptor, sealed.shards, { ...keys, key: newKey() })).toThrowError(
      AuthenticationError,
    );
    expect(() =>
      openStripe(sealed.descriptor, sealed.shards, { ...keys, volumeId: new Uint8Array(16).fill(9) }),
    ).toThrowError(AuthenticationError);
    expect(() => openStripe({ ...sealed.descriptor, kind: BlockKind.Metadata }, sealed.shards, keys)).toThrowError(
      AuthenticationError,
    );
  });
});

describe('descriptor bytes', () => {
  const { descriptor } = sealStripe(new Uint8Array(100), options(4, 2));
  const bytes = encodeDescriptor(descriptor);

  it.each([
    ['truncated', bytes.subarray(0, 10), /too short/],
    ['missing an id', bytes.subarray(0, bytes.length - 32), /expected 206 for 4\+2/],
    ['unknown version', Uint8Array.from(bytes).fill(9, 0, 1), /format version 9; this cairn reads version 1/],
    ['unknown kind', Uint8Array.from(bytes).fill(7, 1, 2), /unknown block kind 7/],
    ['impossible code', Uint8Array.from(bytes).fill(0, 2, 4), /impossible code 0\+2/],
    ['padded shorter than length', Uint8Array.from(bytes).fill(0, 10, 14), /impossible lengths/],
  ])('%s -> DescriptorFormatError', (_, bad, message) => {
    expect(() => decodeDescriptor(bad)).toThrowError(DescriptorFormatError);
    expect(() => decodeDescriptor(bad)).toThrowError(message);
  });
});
