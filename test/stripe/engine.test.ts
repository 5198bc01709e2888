import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthenticationError, newKey, shardId, useHashHelper } from '../../src/crypto/index.js';
import {
  BlockKind,
  type SealOptions,
  StripeEngine,
  StripeUnrecoverableError,
  StripeWorkerError,
  openStripe,
  sealStripe,
} from '../../src/stripe/index.js';
import { randomBytes, rng } from '../helpers/random.js';

const keys = { volumeId: new Uint8Array(16).fill(3), key: newKey() };
const o: SealOptions = { ...keys, kind: BlockKind.Data, k: 4, m: 2 };
const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
const next = rng();

describe('StripeEngine (worker threads)', () => {
  const engine = new StripeEngine(2);
  afterAll(() => engine.close());

  it('seals and opens many blocks at once, interchangeably with the calling thread', async () => {
    const blocks = Array.from({ length: 8 }, (_, i) => randomBytes(next, 100_000 + i * 1000));
    const sealed = await Promise.all(blocks.map((b) => engine.seal(b, o)));
    for (const [i, s] of sealed.entries()) {
      s.shards.forEach((shard, x) => {
        expect(s.descriptor.shardIds[x]).toBe(shardId(shard));
      });
      expect(same((await openStripe(s.descriptor, s.shards, keys)).block, blocks[i])).toBe(true);
    }
    const here = await sealStripe(blocks[0], o);
    const lost = here.shards.map((s, x) => (x < 2 ? null : s));
    expect(same((await engine.open(here.descriptor, lost, keys)).block, blocks[0])).toBe(true);
  });

  it('errors come back as the same typed errors', async () => {
    const s = await sealStripe(randomBytes(next, 5000), o);
    await expect(engine.open(s.descriptor, [null, null, null, s.shards[3], s.shards[4], s.shards[5]], keys)).rejects.toThrowError(
      StripeUnrecoverableError,
    );
    const err = await engine.open(s.descriptor, s.shards, { ...keys, key: newKey() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).code).toBe('crypto.authentication');
  });

  it('recycle takes back only the blocks open() returned, once; the engine keeps working', async () => {
    const block = randomBytes(next, 200_000);
    const s = await sealStripe(block, o);
    const opened = (await engine.open(s.descriptor, s.shards, keys)).block;
    const mine = Uint8Array.from(block);
    engine.recycle(mine);
    expect(same(mine, block)).toBe(true);
    engine.recycle(opened);
    // Its memory went back to a worker: the view reads as empty now.
    expect(opened.length).toBe(0);
    engine.recycle(opened);
    expect(same((await engine.open(s.descriptor, s.shards, keys)).block, block)).toBe(true);
  });

  it('a held stripe writes the shards given files on its worker, and brings back the rest only when some are left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-held-'));
    try {
      const block = randomBytes(next, 300_000);
      const all = await engine.sealHeld(block, o);
      const ids = all.descriptor.shardIds;
      const files = ids.map((id) => ({ path: join(dir, id), sync: true }));
      writeFileSync(files[1].path, 'an older, damaged copy');
      const done = await all.settle(files);
      expect(done.sealed).toBeUndefined();
      expect(done.written).toEqual(ids.map((_, i) => ({ previous: i === 1 ? 22 : undefined })));
      const onDisk = ids.map((id) => new Uint8Array(readFileSync(join(dir, id))));
      onDisk.forEach((bytes, i) => {
        expect(bytes.length).toBe(all.shardBytes);
        expect(shardId(bytes)).toBe(ids[i]);
      });
      expect(same((await openStripe(all.descriptor, onDisk, keys)).block, block)).toBe(true);
      expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);

      // No file for shard 0, and one that cannot be written: both come back with every shard.
      const some = await engine.sealHeld(block, o);
      const targets = some.descriptor.shardIds.map((id, i) =>
        i === 0 ? undefined : { path: join(dir, i === 2 ? 'no-such-dir' : '', id), sync: false },
      );
      const partly = await some.settle(targets);
      expect(partly.written[0]).toBeUndefined();
      expect(partly.written[2]).toMatchObject({ error: { code: 'ENOENT' } });
      expect(partly.written[3]).toEqual({ previous: undefined });
      expect(partly.sealed!.shards.map((x) => shardId(x))).toEqual(some.descriptor.shardIds);
      await expect(some.settle(targets)).rejects.toThrowError(StripeWorkerError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a held stripe whose worker stopped fails to settle, clearly', async () => {
    const stopping = new StripeEngine(1);
    const held = await stopping.sealHeld(new Uint8Array(10), o);
    await stopping.close();
    await expect(held.settle([])).rejects.toThrowError(StripeWorkerError);
  });

  it('a closed engine refuses work clearly', async () => {
    const closing = new StripeEngine(1);
    await closing.seal(new Uint8Array(10), o);
    await closing.close();
    await expect(closing.seal(new Uint8Array(10), o)).rejects.toThrowError(StripeWorkerError);
  });
});

describe('the hash helper and reused seal buffers', () => {
  it('ids from the helper thread equal ids computed here', async () => {
    const block = randomBytes(next, 3 * 2 ** 20);
    useHashHelper(true);
    const a = await sealStripe(block, o);
    a.shards.forEach((s, i) => {
      expect(a.descriptor.shardIds[i]).toBe(shardId(s));
    });
    useHashHelper(false);
    try {
      const b = await sealStripe(block, o);
      expect(same((await openStripe(a.descriptor, a.shards, keys)).block, block)).toBe(true);
      expect(same((await openStripe(b.descriptor, b.shards, keys)).block, block)).toBe(true);
    } finally {
      useHashHelper(true);
    }
  });

  it('a released buffer is reused without leaking old bytes into the next stripe', async () => {
    const big = randomBytes(next, 2 ** 20);
    const first = await sealStripe(big, o);
    first.release();
    const small = randomBytes(next, 1000);
    const second = await sealStripe(small, o);
    second.shards.forEach((s, i) => {
      expect(second.descriptor.shardIds[i]).toBe(shardId(s));
    });
    expect(same((await openStripe(second.descriptor, second.shards.map((s, i) => (i < 2 ? null : s)), keys)).block, small)).toBe(
      true,
    );
    second.release();
  });
});
