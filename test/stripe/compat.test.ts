import { beforeAll, describe, expect, it } from 'vitest';
import { baselineOpen, baselineReady, baselineSeal } from '../../bench/pipeline/reference.js';
import { newKey } from '../../src/crypto/index.js';
import { BlockKind, type SealOptions, openStripe, sealStripe } from '../../src/stripe/index.js';
import { randomBytes, rng } from '../helpers/random.js';

// The pipeline baseline writes docs/FORMAT.md's stripe from libsodium and the
// reference codec: each side must read the other's stripes.
beforeAll(() => baselineReady());

describe('stripe format agrees with an independent implementation', () => {
  const next = rng();
  const keys = { volumeId: randomBytes(next, 16), key: newKey() };

  it.each([
    [4, 2, 1000, 1],
    [4, 2, 300_000, 4096],
    [10, 4, 77, 1],
    [1, 2, 5, 1],
    [3, 3, 0, 1],
  ])('RS(%i,%i), %i bytes, padTo %i', async (k, m, length, padTo) => {
    const o: SealOptions = { ...keys, kind: BlockKind.Metadata, k, m, padTo };
    const block = randomBytes(next, length);
    const ours = await sealStripe(block, o);
    const theirs = baselineSeal(block, o);
    expect(theirs.shards.map((s) => s.length)).toEqual(ours.shards.map((s) => s.length));
    const lose = (s: readonly Uint8Array[]) => s.map((x, i) => (i < m ? null : x));
    expect(Buffer.compare(baselineOpen(ours.descriptor, lose(ours.shards), keys), block)).toBe(0);
    expect(Buffer.compare((await openStripe(theirs.descriptor, lose(theirs.shards), keys)).block, block)).toBe(0);
  });
});
