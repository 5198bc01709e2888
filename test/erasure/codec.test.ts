import { describe, expect, it } from 'vitest';
import { referenceEncode, referenceReconstruct } from '../../bench/erasure/reference.js';
import {
  InvalidCodeError,
  join,
  ReedSolomon,
  ShardCountError,
  ShardLengthError,
  split,
  TooFewShardsError,
} from '../../erasure/index.js';
import { CairnError } from '../../src/errors/index.js';
import { randomBytes, randomInt, rng, subsetsUpTo, TEST_SEED } from '../helpers/random.js';

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

function dataShards(next: () => number, k: number, length: number): Uint8Array[] {
  return Array.from({ length: k }, () => randomBytes(next, length));
}

describe(`parity matches reed-solomon-erasure byte for byte (seed ${TEST_SEED})`, () => {
  const cases: [number, number, number][] = [
    [4, 2, 1],
    [4, 2, 15],
    [4, 2, 16],
    [4, 2, 17],
    [4, 2, (1 << 20) + 3],
    [10, 4, (1 << 20) + 3],
    [1, 1, 7],
    [1, 5, 33],
    [17, 3, 100],
    [200, 56, 40],
    [128, 128, 31],
  ];
  const next = rng();
  for (let i = 0; i < 40; i++) {
    cases.push([randomInt(next, 1, 24), randomInt(next, 1, 12), randomInt(next, 1, 5000)]);
  }

  it.each(cases)('RS(%i,%i) with %i-byte shards', (k, m, length) => {
    const data = dataShards(next, k, length);
    const ours = new ReedSolomon(k, m).encode(data);
    const theirs = referenceEncode(data, m);
    expect(ours).toHaveLength(m);
    ours.forEach((p, i) => {
      expect(same(p, theirs[i]), `parity shard ${k + i}`).toBe(true);
    });
  });

  it('reconstructs the same data as the reference from the same survivors', () => {
    const [k, m, length] = [10, 4, 4099];
    const rs = new ReedSolomon(k, m);
    const data = dataShards(next, k, length);
    const all = [...data, ...rs.encode(data)];
    const lost = new Set([0, 3, 9, 12]);
    const survivors = all.map((s, i) => (lost.has(i) ? null : s));
    const ours = rs.reconstruct(survivors, { dataOnly: true });
    const theirs = referenceReconstruct(survivors, k);
    ours.forEach((s, i) => {
      expect(same(s, theirs[i])).toBe(true);
      expect(same(s, data[i])).toBe(true);
    });
  });
});

describe('every erasure pattern up to m reconstructs exactly', () => {
  const next = rng(TEST_SEED + 1);
  const codes: [number, number, number][] = [
    [4, 2, 1000],
    [3, 3, 77],
    [1, 2, 16],
    [2, 1, 5],
    [6, 3, 300],
  ];
  it.each(codes)('RS(%i,%i): all patterns', (k, m, length) => {
    const rs = new ReedSolomon(k, m);
    const data = dataShards(next, k, length);
    const all = [...data, ...rs.encode(data)];
    const patterns = subsetsUpTo(k + m, m);
    for (const lost of patterns) {
      const out = rs.reconstruct(all.map((s, i) => (lost.includes(i) ? undefined : s)));
      out.forEach((s, i) => {
        expect(same(s, all[i]), `pattern [${lost}] shard ${i}`).toBe(true);
      });
    }
  });

  it('RS(10,4): 200 sampled patterns of 1..4 losses over data and parity', () => {
    const rs = new ReedSolomon(10, 4);
    const data = dataShards(next, 10, 513);
    const all = [...data, ...rs.encode(data)];
    for (let t = 0; t < 200; t++) {
      const lost = new Set<number>();
      const count = randomInt(next, 1, 4);
      while (lost.size < count) lost.add(randomInt(next, 0, 13));
      const out = rs.reconstruct(all.map((s, i) => (lost.has(i) ? null : s)));
      out.forEach((s, i) => {
        expect(same(s, all[i]), `pattern [${[...lost]}] shard ${i}`).toBe(true);
      });
    }
  });
});

describe('buffers', () => {
  const next = rng(TEST_SEED + 2);

  it('encodes into caller-provided parity buffers', () => {
    const rs = new ReedSolomon(4, 2);
    const data = dataShards(next, 4, 100);
    const parity = [new Uint8Array(100), new Uint8Array(100)];
    const out = rs.encode(data, parity);
    expect(out[0]).toBe(parity[0]);
    expect(out[1]).toBe(parity[1]);
    expect(same(parity[0], referenceEncode(data, 2)[0])).toBe(true);
  });

  it('rebuilds `lost` shards in place and returns present shards uncopied', () => {
    const rs = new ReedSolomon(4, 2);
    const data = dataShards(next, 4, 64);
    const all = [...data, ...rs.encode(data)];
    const expected = all.map((s) => s.slice());
    all[1].fill(0);
    all[5].fill(0xaa);
    const out = rs.reconstruct(all, { lost: [1, 5] });
    expect(out[1]).toBe(all[1]);
    expect(out[5]).toBe(all[5]);
    expect(out[0]).toBe(all[0]);
    out.forEach((s, i) => {
      expect(same(s, expected[i])).toBe(true);
    });
  });

  it('works on shards that are views into one larger buffer', () => {
    const rs = new ReedSolomon(3, 2);
    const block = randomBytes(next, 3 * 1000 + 10);
    const data = [0, 1, 2].map((i) => block.subarray(5 + i * 1000, 5 + (i + 1) * 1000));
    const parity = rs.encode(data);
    expect(same(parity[1], referenceEncode(data, 2)[1])).toBe(true);
    const out = rs.reconstruct([null, data[1], null, parity[0], parity[1]], { dataOnly: true });
    expect(out).toHaveLength(3);
    expect(same(out[0], data[0]) && same(out[2], data[2])).toBe(true);
  });

  it('verify accepts good parity and rejects a single flipped bit anywhere', () => {
    const rs = new ReedSolomon(5, 3);
    const data = dataShards(next, 5, 200);
    const all = [...data, ...rs.encode(data)];
    expect(rs.verify(all)).toBe(true);
    for (const shard of [0, 4, 5, 7]) {
      const bad = all.map((s) => s.slice());
      bad[shard][randomInt(next, 0, 199)] ^= 1 << randomInt(next, 0, 7);
      expect(rs.verify(bad), `flip in shard ${shard}`).toBe(false);
    }
  });

  it('m = 0 has no parity; k = 1 replicates', () => {
    const data = dataShards(next, 3, 50);
    expect(new ReedSolomon(3, 0).encode(data)).toEqual([]);
    const one = randomBytes(next, 50);
    const copies = new ReedSolomon(1, 3).encode([one]);
    for (const c of copies) expect(same(c, one)).toBe(true);
  });

  it('remembers decode plans per erasure pattern, up to a bound', () => {
    const rs = new ReedSolomon(8, 4);
    const data = dataShards(next, 8, 32);
    const all = [...data, ...rs.encode(data)];
    const drop = (lost: number[]) => all.map((s, i) => (lost.includes(i) ? null : s));
    rs.reconstruct(drop([0, 1]));
    rs.reconstruct(drop([0, 1]));
    expect(rs.cachedPatterns).toBe(1);
    for (const lost of subsetsUpTo(12, 2)) rs.reconstruct(drop(lost));
    expect(rs.cachedPatterns).toBeLessThanOrEqual(64);
  });

  it('split and join round-trip any length', () => {
    for (const length of [0, 1, 15, 16, 17, 1001]) {
      const bytes = randomBytes(next, length);
      const shards = split(bytes, 4);
      expect(new Set(shards.map((s) => s.length)).size).toBe(1);
      expect(same(join(shards, length), bytes)).toBe(true);
    }
  });
});

describe('bad input gets typed errors', () => {
  const rs = new ReedSolomon(4, 2);
  const shard = (n: number) => new Uint8Array(n);

  it.each([
    [0, 2, /data shards must be an integer >= 1/],
    [-1, 2, /data shards/],
    [2.5, 2, /data shards/],
    [4, -1, /parity shards must be an integer >= 0/],
    [200, 57, /257 shards; GF\(2\^8\) allows at most 256/],
  ])('new ReedSolomon(%d, %d)', (k, m, message) => {
    expect(() => new ReedSolomon(k, m)).toThrowError(InvalidCodeError);
    expect(() => new ReedSolomon(k, m)).toThrowError(message);
  });

  it('mismatched shard lengths', () => {
    expect(() => rs.encode([shard(10), shard(10), shard(11), shard(10)])).toThrowError(ShardLengthError);
    expect(() => rs.encode([shard(10), shard(10), shard(11), shard(10)])).toThrowError(/all be 10 bytes.*11 bytes/);
    expect(() => rs.reconstruct([shard(10), null, shard(9), shard(10), shard(10), null])).toThrowError(
      ShardLengthError,
    );
    expect(() => rs.encode([shard(10), shard(10), shard(10), shard(10)], [shard(10), shard(9)])).toThrowError(
      ShardLengthError,
    );
  });

  it('zero-length shards', () => {
    expect(() => rs.encode([shard(0), shard(0), shard(0), shard(0)])).toThrowError(/must not be empty/);
  });

  it('the wrong number of shards', () => {
    expect(() => rs.encode([shard(4), shard(4), shard(4)])).toThrowError(ShardCountError);
    expect(() => rs.reconstruct([shard(4), shard(4), shard(4), shard(4)])).toThrowError(/expected 6 shard slots/);
    expect(() =>
      rs.reconstruct([shard(4), shard(4), shard(4), shard(4), shard(4), shard(4)], { lost: [6] }),
    ).toThrowError(/lost shard index 6 is outside 0\.\.5/);
  });

  it('more than m shards missing', () => {
    const data = [shard(8), shard(8), shard(8), shard(8)];
    const all = [...data, ...rs.encode(data)];
    const err = (() => {
      try {
        rs.reconstruct([null, null, null, all[3], all[4], all[5]]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TooFewShardsError);
    expect(err).toBeInstanceOf(CairnError);
    expect((err as TooFewShardsError).code).toBe('erasure.too-few-shards');
    expect((err as Error).message).toBe('cannot reconstruct: only 3 of 6 shards present, at least 4 needed');
    expect(() => rs.reconstruct(all, { lost: [0, 1, 2] })).toThrowError(TooFewShardsError);
  });

  it('a non-Uint8Array shard', () => {
    expect(() => rs.encode([shard(4), shard(4), shard(4), [1, 2, 3, 4] as unknown as Uint8Array])).toThrowError(
      /every shard must be a Uint8Array/,
    );
  });
});
