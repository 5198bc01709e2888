import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthenticationError, newKey, shardId, useHashHelper } from '../../src/crypto/index.js';
import {
  BlockKind,
  type SealOptions,
  type StripeDescriptor,
  StripeEngine,
  StripeUnrecoverableError,
  StripeWorkerError,
  openStripe,
  sealStripe,
} from '../../src/stripe/index.js';
import { randomBytes, rng } from '../helpers/random.js';
import { readPackIndex } from '../../src/store/packs.js';
import { FileStore } from '../../src/store/index.js';

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

  it('blocks opened into recycled memory hold their own bytes and length, none of the block before', async () => {
    // Both pad to 256 KiB: a worker opens the next block into the memory of one recycled to it before.
    const blocks = Array.from({ length: 12 }, (_, i) => randomBytes(next, i % 2 ? 140_000 : 200_000));
    const sealed = await Promise.all(blocks.map((b) => sealStripe(b, { ...o, padTo: 256 * 1024 })));
    for (let round = 0; round < 3; round++) {
      for (const [i, s] of sealed.entries()) {
        const opened = (await engine.open(s.descriptor, s.shards, keys)).block;
        expect(opened.length).toBe(blocks[i].length);
        expect(same(opened, blocks[i])).toBe(true);
        engine.recycle(opened);
      }
    }
  });

  it('held stripes settled together write one pack per target and worker, and bring back only stripes with shards left over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-held-'));
    try {
      const blocks = Array.from({ length: 4 }, (_, i) => randomBytes(next, 300_000 + i));
      const held = await Promise.all(blocks.map((b) => engine.sealHeld(b, o)));
      // Shards 0-2 of every stripe into pack target 0, 3-5 into target 1.
      const targets = [0, 1].map((t) => ({ dir: join(dir, `t${t}`), sync: true }));
      for (const t of targets) mkdirSync(t.dir);
      const done = await engine.settle(held.map((stripe) => ({ stripe, to: [0, 0, 0, 1, 1, 1] })), targets);
      expect(done.failures).toEqual([]);
      expect(done.stripes.map((s) => s.sealed)).toEqual([undefined, undefined, undefined, undefined]);
      expect(done.stripes.map((s) => s.written)).toEqual(held.map(() => [true, true, true, true, true, true]));
      // Two workers may each have held some of the stripes: one pack per target per worker that had any.
      expect(done.packs.length).toBeGreaterThanOrEqual(2);
      for (const { target, pack } of done.packs) {
        const index = await readPackIndex(join(targets[target].dir, `${pack.name}.pack`));
        expect(index).toEqual({ ids: pack.ids, lengths: pack.lengths });
      }
      const packed = new Map(done.packs.flatMap(({ target, pack }) => pack.ids.map((id) => [id, target])));
      held.forEach((h) => h.descriptor.shardIds.forEach((id, i) => expect(packed.get(id)).toBe(i < 3 ? 0 : 1)));
      for (const t of targets) expect(readdirSync(t.dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);

      // No target for shard 0 of one stripe, a target that cannot be written for another: both come back whole.
      const more = await Promise.all(blocks.slice(0, 3).map((b) => engine.sealHeld(b, o)));
      const broken = { dir: join(dir, 'no-such-dir'), sync: false };
      const partly = await engine.settle(
        [
          { stripe: more[0], to: [undefined, 0, 0, 0, 0, 0] },
          { stripe: more[1], to: [1, 1, 0, 0, 0, 0] },
          { stripe: more[2], to: [0, 0, 0, 0, 0, 0] },
        ],
        [targets[0], broken],
      );
      expect(partly.failures.map((f) => f.target)).toContain(1);
      expect(partly.failures.find((f) => f.target === 1)!.error).toMatchObject({ code: 'ENOENT' });
      expect(partly.stripes[0].written).toEqual([false, true, true, true, true, true]);
      expect(partly.stripes[1].written).toEqual([false, false, true, true, true, true]);
      for (const i of [0, 1]) expect(partly.stripes[i].sealed!.shards.map((x) => shardId(x))).toEqual(more[i].descriptor.shardIds);
      expect(partly.stripes[2].sealed).toBeUndefined();
      await expect(engine.settle([{ stripe: more[2], to: [] }], [])).rejects.toThrowError(StripeWorkerError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stripes sealed into the memory of stripes already packed open to their own blocks; a stripe sent back keeps its shards', async () => {
    const store = await FileStore.open(mkdtempSync(join(tmpdir(), 'cairn-spares-')));
    try {
      const stripes: { block: Uint8Array; descriptor: StripeDescriptor; back?: Uint8Array[] }[] = [];
      for (let round = 0; round < 3; round++) {
        const blocks = Array.from({ length: 8 }, () => randomBytes(next, 250_000));
        const held = await Promise.all(blocks.map((b) => engine.sealHeld(b, o)));
        // The first stripe of each round has no target for shard 0: it comes back whole, and its memory must not be reused.
        const done = await engine.settle(
          held.map((stripe, i) => ({ stripe, to: i === 0 ? [undefined, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, 0] })),
          [store.packTarget()!],
        );
        expect(done.failures).toEqual([]);
        for (const { pack } of done.packs) store.packWritten(pack);
        held.forEach((h, i) => stripes.push({ block: blocks[i], descriptor: h.descriptor, back: done.stripes[i].sealed?.shards }));
      }
      for (const { block, descriptor, back } of stripes) {
        const shards = await Promise.all(descriptor.shardIds.map((id, i) => (back ? Promise.resolve(back[i]) : store.get(id))));
        expect(same((await engine.open(descriptor, shards, keys)).block, block)).toBe(true);
      }
    } finally {
      await store.close();
      rmSync(store.dir, { recursive: true, force: true });
    }
  });

  it('a stripe given twice to one settle is refused before any worker sees it', async () => {
    const held = await engine.sealHeld(randomBytes(next, 1000), o);
    await expect(engine.settle([{ stripe: held, to: [] }, { stripe: held, to: [] }], [])).rejects.toThrowError(/twice/);
    const done = await engine.settle([{ stripe: held, to: [] }], []);
    expect(done.stripes[0].sealed!.shards.map((x) => shardId(x))).toEqual(held.descriptor.shardIds);
  });

  it('a held stripe whose worker stopped settles with the error that lost it, clearly', async () => {
    const stopping = new StripeEngine(1);
    const held = await stopping.sealHeld(new Uint8Array(10), o);
    await stopping.close();
    const settled = await stopping.settle([{ stripe: held, to: [] }], []);
    expect(settled.stripes[0].error).toBeInstanceOf(StripeWorkerError);
    expect(settled.stripes[0].sealed).toBeUndefined();
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
