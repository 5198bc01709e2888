import { describe, expect, it } from 'vitest';
import { type BlockFetcher, DataLayer } from '../../src/volume/data.js';
import type { BlockRef, Inode } from '../../src/volume/meta.js';

// Unit tests of the block cache's recycling, with a fake fetcher: block n of a file holds BS bytes of value n+1.
const BS = 16;
const INO = 7;

function refOf(index: number): BlockRef {
  const descriptor = new Uint8Array(46);
  descriptor[14] = index + 1;
  return { descriptor, stores: [] };
}

function fileOf(blocks: number): Inode {
  const now = Date.now();
  return {
    ino: INO,
    mode: 0o100644,
    uid: 0,
    gid: 0,
    nlink: 1,
    size: blocks * BS,
    atimeMs: now,
    mtimeMs: now,
    ctimeMs: now,
    blocks: new Map(Array.from({ length: blocks }, (_, i) => [i, refOf(i)])),
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Fetches fresh blocks (each with its own buffer), held back while gated; recycling detaches the buffer as the engine's does. */
class FakeFetcher implements BlockFetcher {
  readonly recycled: number[] = [];
  readonly fetched: number[] = [];
  readonly #gates = new Map<number, Promise<void>>();

  gate(value: number): () => void {
    let open!: () => void;
    this.#gates.set(value, new Promise<void>((resolve) => (open = resolve)));
    return () => {
      this.#gates.delete(value);
      open();
    };
  }

  async fetch(ref: BlockRef): Promise<Uint8Array> {
    const value = ref.descriptor[14];
    await this.#gates.get(value);
    this.fetched.push(value);
    return new Uint8Array(BS).fill(value);
  }

  recycle(block: Uint8Array): void {
    this.recycled.push(block[0]);
    structuredClone(block.buffer, { transfer: [block.buffer as ArrayBuffer] });
  }
}

describe('block cache recycling', () => {
  it('hands evicted fetched blocks back after the current callbacks, and keeps reads exact', async () => {
    const fetcher = new FakeFetcher();
    const data = new DataLayer(BS, fetcher, 2 * BS);
    const inode = fileOf(4);
    for (let i = 0; i < 4; i++) {
      const out = new Uint8Array(BS);
      await data.read(inode, out, BS, i * BS);
      expect([...out]).toEqual(new Array(BS).fill(i + 1));
    }
    await nextTurn();
    expect(fetcher.recycled).toEqual([1, 2]);
  });

  /**
   * Block 0 cached and handed over at once, block 1 held back while other reads push block 0 out of the
   * cache and it is recycled; then block 1 comes. What `start` began meanwhile has to cope.
   */
  async function whileRecycled<T>(start: (data: DataLayer, inode: Inode) => Promise<T>) {
    const fetcher = new FakeFetcher();
    const data = new DataLayer(BS, fetcher, 2 * BS);
    const inode = fileOf(4);
    await data.read(inode, new Uint8Array(BS), BS, 0);
    const release = fetcher.gate(2);
    const started = start(data, inode);
    await nextTurn();
    await data.read(inode, new Uint8Array(BS), BS, 2 * BS);
    await data.read(inode, new Uint8Array(BS), BS, 3 * BS);
    await nextTurn();
    expect(fetcher.recycled).toContain(1);
    release();
    return { data, inode, fetcher, result: await started };
  }

  it('a read that waited for one block while the other was recycled asks again, and returns exact bytes', async () => {
    const out = new Uint8Array(8);
    const { fetcher, result } = await whileRecycled((data, inode) => data.read(inode, out, 8, BS - 4));
    expect(result).toBe(8);
    expect([...out]).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    expect(fetcher.fetched.filter((v) => v === 1)).toHaveLength(2);
  });

  it('a write into blocks it had to load, one of them recycled meanwhile, loads it again and keeps its bytes', async () => {
    const { data, inode, result: loaded } = await whileRecycled((data, inode) => data.prepareWrite(inode, BS - 2, 4));
    data.applyWrite(inode, Uint8Array.of(9, 9, 9, 9), BS - 2, loaded);
    const out = new Uint8Array(2 * BS);
    await data.read(inode, out, 2 * BS, 0);
    expect([...out]).toEqual([...new Array(BS - 2).fill(1), 9, 9, 9, 9, ...new Array(BS - 2).fill(2)]);
  });

  it('written blocks are never handed back: only what was fetched', async () => {
    const fetcher = new FakeFetcher();
    const data = new DataLayer(BS, fetcher, 2 * BS);
    const inode = fileOf(4);
    const loaded = await data.prepareWrite(inode, 0, BS);
    data.applyWrite(inode, new Uint8Array(BS).fill(42), 0, loaded);
    for (let i = 1; i < 4; i++) await data.read(inode, new Uint8Array(BS), BS, i * BS);
    await nextTurn();
    expect(fetcher.recycled).not.toContain(42);
    expect(fetcher.recycled).toEqual([2]);
  });

  /** A file of `blocks` blocks, holes except where refs are given (block n's ref fetches value n+1). */
  function sparseFile(ino: number, blocks: number, refs: number[]): Inode {
    return { ...fileOf(blocks), ino, blocks: new Map(refs.map((i) => [i, refOf(i)])) };
  }

  /** Writes block 0 of `inode` whole (value 11, what refOf(10) fetches), commits it under refOf(10): cached, its buffer shared memory. */
  async function committedBlock(data: DataLayer, inode: Inode): Promise<Uint8Array> {
    data.applyWrite(inode, new Uint8Array(BS).fill(11), 0, await data.prepareWrite(inode, 0, BS));
    const [block] = data.takeDirty();
    expect(block.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    data.install(inode, block, refOf(10), block.data);
    return block.data;
  }

  /** A layer whose committed block 0 (11s) the cache has just evicted: its buffer is the next whole dirty block's. */
  async function spareAfterEviction(): Promise<{ fetcher: FakeFetcher; data: DataLayer; committed: Uint8Array }> {
    const fetcher = new FakeFetcher();
    const data = new DataLayer(BS, fetcher, 2 * BS);
    const inode = sparseFile(INO, 4, [1, 2]);
    const committed = await committedBlock(data, inode);
    for (const i of [1, 2]) await data.read(inode, new Uint8Array(BS), BS, i * BS);
    await nextTurn();
    return { fetcher, data, committed };
  }

  it('an evicted committed block’s buffer is the next dirty block’s; its old bytes never show', async () => {
    const { fetcher, data, committed } = await spareAfterEviction();
    // Four bytes into the middle of a hole: the rest of the block must read as zeros, not as block 0's 11s.
    const other = sparseFile(INO + 1, 4, []);
    data.applyWrite(other, Uint8Array.of(5, 5, 5, 5), 6, await data.prepareWrite(other, 6, 4));
    const dirty = data.dirty.get(`${INO + 1}:0`)!;
    expect(dirty.room.buffer).toBe(committed.buffer);
    const out = new Uint8Array(BS);
    await data.read(other, out, BS, 0);
    expect([...out]).toEqual([0, 0, 0, 0, 0, 0, 5, 5, 5, 5, 0, 0, 0, 0, 0, 0]);
    expect(fetcher.recycled).not.toContain(11);
  });

  it('a reused buffer is not cleared up front: pieces written in order, and zeros in a gap between two writes', async () => {
    const { data, committed } = await spareAfterEviction();
    const other = sparseFile(INO + 1, 4, []);
    const write = async (value: number, at: number, length: number) =>
      data.applyWrite(other, new Uint8Array(length).fill(value), at, await data.prepareWrite(other, at, length));
    await write(1, 0, 2);
    await write(1, 2, 2);
    await write(2, 8, 4);
    const dirty = data.dirty.get(`${INO + 1}:0`)!;
    expect(dirty.room.buffer).toBe(committed.buffer);
    // The old block's 11s are still there past the written length: what the reads below must not show.
    expect(dirty.room[BS - 1]).toBe(11);
    const out = new Uint8Array(BS);
    await data.read(other, out, BS, 0);
    expect([...out]).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0]);
    const [block] = data.takeDirty();
    expect([...block.data]).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2]);
  });

  it('a read that held a committed block while its buffer went to a new dirty block asks again', async () => {
    const fetcher = new FakeFetcher();
    const data = new DataLayer(BS, fetcher, 2 * BS);
    const inode = sparseFile(INO, 4, [1, 2, 3]);
    await committedBlock(data, inode);
    const release = fetcher.gate(2);
    const out = new Uint8Array(8);
    const reading = data.read(inode, out, 8, BS - 4);
    await nextTurn();
    for (const i of [2, 3]) await data.read(inode, new Uint8Array(BS), BS, i * BS);
    await nextTurn();
    const other = sparseFile(INO + 1, 4, []);
    data.applyWrite(other, new Uint8Array(BS).fill(99), 0, await data.prepareWrite(other, 0, BS));
    release();
    expect(await reading).toBe(8);
    expect([...out]).toEqual([11, 11, 11, 11, 2, 2, 2, 2]);
    expect(fetcher.fetched).toContain(11);
  });

  it('a read that held an older view of a block (a write made a new one since) asks again once its buffer is reused', async () => {
    const fetcher = new FakeFetcher();
    const data = new DataLayer(BS, fetcher, 2 * BS);
    const inode = sparseFile(INO, 4, [1, 2, 3]);
    data.applyWrite(inode, new Uint8Array(BS).fill(11), 0, await data.prepareWrite(inode, 0, BS));
    const release = fetcher.gate(2);
    const out = new Uint8Array(2 * BS);
    // Holds block 0's dirty view, and waits for block 1.
    const reading = data.read(inode, out, 2 * BS, 0);
    await nextTurn();
    // A write in place makes a new view of the same buffer; that one is committed, cached, then evicted.
    data.applyWrite(inode, Uint8Array.of(11, 11), 0, await data.prepareWrite(inode, 0, 2));
    const [block] = data.takeDirty();
    data.install(inode, block, refOf(10), block.data);
    for (const i of [2, 3]) await data.read(inode, new Uint8Array(BS), BS, i * BS);
    await nextTurn();
    const other = sparseFile(INO + 1, 4, []);
    data.applyWrite(other, new Uint8Array(BS).fill(0x55), 0, await data.prepareWrite(other, 0, BS));
    expect(data.dirty.get(`${INO + 1}:0`)!.room.buffer).toBe(block.data.buffer);
    release();
    await reading;
    expect([...out]).toEqual([...new Array(BS).fill(11), ...new Array(BS).fill(2)]);
  });
});
