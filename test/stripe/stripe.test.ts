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
const copies = (shards: readonly Uint8Array[]) => shards.map((s) => Uint8Array.from(s));

describe(`seal -> open round trip (seed ${TEST_SEED})`, () => {
  const next = rng();

  it.each([
    [2, 1],
    [3, 2],
    [4, 2],
    [1, 2],
  ])('RS(%i,%i): every pattern of up to m losses, blocks of 0 B to 200 KiB', async (k, m) => {
    for (const length of [0, 1, 23, 24, 40, 1000, 200 * 1024 + 3]) {
      const block = randomBytes(next, length);
      const { shards, descriptor } = await sealStripe(block, options(k, m));
      expect(shards).toHaveLength(k + m);
      for (const lost of subsetsUpTo(k + m, m)) {
        const { block: back, bad } = await openStripe(descriptor, drop(shards, lost), keys);
        expect(same(back, block), `${length} bytes, lost [${lost}]`).toBe(true);
        expect(bad).toEqual([]);
      }
    }
  });

  it('RS(10,4) and RS(4,2) with multi-MiB blocks, sampled patterns', async () => {
    for (const [k, m, length] of [
      [4, 2, 4 * 2 ** 20],
      [10, 4, 3 * 2 ** 20 + 5],
    ]) {
      const block = randomBytes(next, length);
      const { shards, descriptor } = await sealStripe(block, options(k, m));
      for (let t = 0; t < 6; t++) {
        const lost = new Set<number>();
        while (lost.size < m) lost.add(randomInt(next, 0, k + m - 1));
        expect(same((await openStripe(descriptor, drop(shards, [...lost]), keys)).block, block)).toBe(true);
      }
    }
  });

  it('a large k over a tiny block: data shards the payload never reaches still get ids', async () => {
    const block = randomBytes(next, 5);
    const { shards, descriptor } = await sealStripe(block, options(30, 3));
    shards.forEach((s, i) => {
      expect(descriptor.shardIds[i]).toBe(shardId(s));
    });
    expect(same((await openStripe(descriptor, drop(shards, [0, 1, 2]), keys)).block, block)).toBe(true);
  });

  it('m+1 losses is a clear error, never wrong bytes', async () => {
    const { shards, descriptor } = await sealStripe(randomBytes(next, 5000), options(4, 2));
    const attempt = openStripe(descriptor, drop(shards, [0, 2, 5]), keys);
    await expect(attempt).rejects.toThrowError(StripeUnrecoverableError);
    await expect(openStripe(descriptor, drop(shards, [0, 2, 5]), keys)).rejects.toThrowError(
      'stripe unreadable: 3 of 6 shards usable, 4 needed',
    );
  });

  it('every shard is named by its hash, and the descriptor round-trips through bytes', async () => {
    const { shards, descriptor } = await sealStripe(randomBytes(next, 777), options(3, 2));
    shards.forEach((s, i) => {
      expect(descriptor.shardIds[i]).toBe(shardId(s));
    });
    expect(decodeDescriptor(encodeDescriptor(descriptor))).toEqual(descriptor);
  });

  it('padding hides the block length from shard sizes', async () => {
    const a = await sealStripe(randomBytes(next, 1), options(4, 2, { padTo: 65536 }));
    const b = await sealStripe(randomBytes(next, 65536), options(4, 2, { padTo: 65536 }));
    expect(a.shards[0].length).toBe(b.shards[0].length);
    expect((await openStripe(a.descriptor, a.shards, keys)).block.length).toBe(1);
  });

  it('sealing the same block twice gives unrelated shards (random nonce)', async () => {
    const block = randomBytes(next, 4096);
    const a = await sealStripe(block, options(4, 2));
    const b = await sealStripe(block, options(4, 2));
    expect(a.descriptor.shardIds.some((id) => b.descriptor.shardIds.includes(id))).toBe(false);
  });
});

describe('bad shards and tampering', () => {
  const next = rng(TEST_SEED + 1);
  const block = randomBytes(next, 10_000);
  const sealing = sealStripe(block, options(4, 2));

  it('a corrupted shard is skipped by its hash and reported', async () => {
    const sealed = await sealing;
    const shards = copies(sealed.shards);
    shards[1][100] ^= 0x20;
    const { block: back, bad } = await openStripe(sealed.descriptor, shards, keys);
    expect(same(back, block)).toBe(true);
    expect(bad).toEqual([1]);
  });

  it('shards in the wrong slots, truncated or with a wrong header are rejected', async () => {
    const sealed = await sealing;
    const s = sealed.shards;
    const given = [s[1], s[0], s[2].subarray(0, 50), s[3], s[4], s[5]];
    await expect(openStripe(sealed.descriptor, given, keys)).rejects.toThrowError(
      /3 of 6 shards usable, 4 needed; rejected as corrupt: shard 0, 1, 2/,
    );
    const relabelled = Uint8Array.from(s[5]);
    relabelled[1] = 4;
    const out = await openStripe(sealed.descriptor, [s[0], null, s[2], s[3], relabelled, s[5]], keys);
    expect(out.bad).toEqual([4]);
    expect(same(out.block, block)).toBe(true);
  });

  it('more than m bad shards: an error listing them', async () => {
    const sealed = await sealing;
    const shards = copies(sealed.shards);
    for (const i of [0, 3, 4]) shards[i][20] ^= 1;
    const err = await openStripe(sealed.descriptor, shards, keys).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StripeUnrecoverableError);
    expect((err as StripeUnrecoverableError).bad).toEqual([0, 3, 4]);
  });

  it('ciphertext altered with consistent parity and ids still fails authentication', async () => {
    // A forger who could also rewrite the descriptor: the AEAD is the last line.
    const sealed = await sealing;
    const { k, m } = sealed.descriptor;
    const shards = copies(sealed.shards);
    shards[2][500] ^= 1;
    ReedSolomon.for(k, m).encode(
      shards.slice(0, k).map((s) => s.subarray(2)),
      shards.slice(k).map((s) => s.subarray(2)),
    );
    const forged = { ...sealed.descriptor, shardIds: shards.map(shardId) };
    await expect(openStripe(forged, shards, keys)).rejects.toThrowError(AuthenticationError);
  });

  it("another stripe's shards under this descriptor are refused, even all k data shards at once", async () => {
    // Same key, volume and sizes: only the shard ids (the nonce's among them) tell the stripes apart.
    const sealed = await sealing;
    const other = await sealStripe(randomBytes(next, block.length), options(4, 2));
    const { k } = sealed.descriptor;
    const swapped = [...other.shards.slice(0, k), null, null];
    const err = await openStripe(sealed.descriptor, swapped, keys).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StripeUnrecoverableError);
    expect((err as StripeUnrecoverableError).bad).toEqual([0, 1, 2, 3]);
    // One foreign shard among this stripe's own: it is dropped, and parity fills in.
    const mixed = [other.shards[0], sealed.shards[1], sealed.shards[2], sealed.shards[3], sealed.shards[4], null];
    const back = await openStripe(sealed.descriptor, mixed, keys);
    expect(same(back.block, block)).toBe(true);
    expect(back.bad).toEqual([0]);
  });

  it('the wrong key, volume or block kind fails authentication', async () => {
    const sealed = await sealing;
    await expect(openStripe(sealed.descriptor, sealed.shards, { ...keys, key: newKey() })).rejects.toThrowError(
      AuthenticationError,
    );
    await expect(
      openStripe(sealed.descriptor, sealed.shards, { ...keys, volumeId: new Uint8Array(16).fill(9) }),
    ).rejects.toThrowError(AuthenticationError);
    await expect(
      openStripe({ ...sealed.descriptor, kind: BlockKind.Metadata }, sealed.shards, keys),
    ).rejects.toThrowError(AuthenticationError);
  });
});

describe('descriptor bytes', () => {
  const bytes = (async () => encodeDescriptor((await sealStripe(new Uint8Array(100), options(4, 2))).descriptor))();

  it.each([
    ['truncated', (b: Uint8Array) => b.subarray(0, 10), /too short/],
    ['missing an id', (b: Uint8Array) => b.subarray(0, b.length - 32), /expected 206 for 4\+2/],
    ['unknown version', (b: Uint8Array) => Uint8Array.from(b).fill(9, 0, 1), /format version 9; this cairn reads version 1/],
    ['unknown kind', (b: Uint8Array) => Uint8Array.from(b).fill(7, 1, 2), /unknown block kind 7/],
    ['impossible code', (b: Uint8Array) => Uint8Array.from(b).fill(0, 2, 4), /impossible code 0\+2/],
    ['padded shorter than length', (b: Uint8Array) => Uint8Array.from(b).fill(0, 10, 14), /impossible lengths/],
  ])('%s -> DescriptorFormatError', async (_, spoil, message) => {
    const bad = spoil(await bytes);
    expect(() => decodeDescriptor(bad)).toThrowError(DescriptorFormatError);
    expect(() => decodeDescriptor(bad)).toThrowError(message);
  });
});
