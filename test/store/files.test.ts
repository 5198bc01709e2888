import { spawnSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { isShardId, type ShardId, shardId } from '../../src/crypto/index.js';
import {
  FileStore,
  type FileStoreOptions,
  LeaseConflictError,
  ShardCorruptError,
  ShardNotFoundError,
  type StoreOptions,
  StoreUnavailableError,
  writePack,
} from '../../src/store/index.js';
import { readPackIndex } from '../../src/store/packs.js';
import { readBuffered } from '../../src/store/range-reads.js';
import { shardStoreConformance, type StoreHarness } from './conformance.js';
import { flipFirstByte, storeTestKit } from './kit.js';
import {
  type HeadsOutcome,
  labelledShard,
  type LeasesOutcome,
  runWorkers,
  type ShardsOutcome,
} from './workers.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cairn-files-'));
}

function shardPath(dir: string, id: ShardId): string {
  return join(dir, 'shards', id.slice(0, 2), id);
}

async function filesHarness(options: FileStoreOptions): Promise<StoreHarness> {
  const dir = await tempDir();
  let store = await FileStore.open(dir, options);
  return {
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = await FileStore.open(dir, options);
      return store;
    },
    // Several openers are fine, so the bytes can be damaged under the open store.
    corrupt: (id) => flipFirstByte(shardPath(dir, id)),
    async cleanup() {
      try {
        await store.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

shardStoreConformance('FileStore', ({ capacity }) => filesHarness({ capacity }), {
  persistent: true,
  corruptible: true,
  capacity: true,
});

/**
 * The same store with every put written as a pack, the way the stripe
 * workers store a commit's shards (a put the store would refuse still goes
 * to put, which refuses it).
 */
function packingPuts(store: FileStore): FileStore {
  return new Proxy(store, {
    get(target, name) {
      if (name === 'put') {
        return async (id: ShardId, bytes: Uint8Array, options?: StoreOptions) => {
          const to = target.packTarget();
          if (!to || options?.signal?.aborted || !isShardId(id) || shardId(bytes) !== id) return target.put(id, bytes, options);
          target.packWritten(await writePack(to, [{ id, bytes: Uint8Array.from(bytes) }]));
        };
      }
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

shardStoreConformance(
  'FileStore, puts written as packs',
  async ({ capacity }) => {
    const harness = await filesHarness({ capacity });
    let store = packingPuts(harness.store as FileStore);
    return {
      get store() {
        return store;
      },
      async reopen() {
        store = packingPuts((await harness.reopen!()) as FileStore);
        return store;
      },
      async corrupt(id) {
        const where = (harness.store as FileStore).shardFile(id);
        await (typeof where === 'string' ? flipFirstByte(where) : flipFirstByte(where.path, where.offset));
      },
      cleanup: () => harness.cleanup(),
    };
  },
  { persistent: true, corruptible: true, capacity: true },
);

/** Every file under dir, relative to it, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

describe('FileStore', () => {
  const { dirForTest, openForTest, shard } = storeTestKit('files', (dir, options?: FileStoreOptions) => FileStore.open(dir, options));

  /** A store in a new directory holding `count` shards of one size in one pack, as a commit leaves them. */
  async function packedStore(count: number) {
    const dir = await dirForTest();
    const store = await openForTest(dir);
    const shards = Array.from({ length: count }, (_, i) => shard(`same size ${i}`));
    const pack = await writePack(store.packTarget()!, shards);
    store.packWritten(pack);
    return { dir, store, shards, pack };
  }
  const volumeId = 'c0ffee'.padEnd(32, '0');

  it('keeps a default id across reopen; openers racing on a new directory agree on it', async () => {
    const dir = await dirForTest();
    const racing = await Promise.all(Array.from({ length: 5 }, () => openForTest(dir)));
    const [first] = racing;
    expect(first.id).toMatch(/^files-[0-9a-f]{12}$/);
    for (const store of racing) expect(store.id).toBe(first.id);
    expect((await openForTest(dir, { id: 'rack-7' })).id).toBe('rack-7');
    expect((await openForTest(dir)).id).toBe(first.id);
  });

  it('lays out shards, heads and leases as plain files, and nothing else', async () => {
    const dir = await dirForTest();
    const store = await openForTest(dir, { id: 'secret-store-name' });
    const { id, bytes } = shard('opaque shard bytes');
    await store.put(id, bytes);
    await store.putLease({ volumeId, epoch: 1, holder: 'mount-1', expiresAtMs: 5 });
    await store.putHead({ volumeId, epoch: 1, seq: 1, body: new Uint8Array([9, 9]) });
    expect(await tree(dir)).toEqual([
      `heads/${volumeId}`,
      'id',
      `leases/${volumeId}`,
      `shards/${id.slice(0, 2)}/${id}`,
    ]);
    expect(await readdir(join(dir, 'locks'))).toEqual([]);
    expect(Buffer.compare(await readFile(shardPath(dir, id)), bytes)).toBe(0);
    const everything = Buffer.concat(await Promise.all((await tree(dir)).map((file) => readFile(join(dir, file)))));
    expect(everything.includes('secret-store-name')).toBe(false);
    expect(everything.includes(dir)).toBe(false);
  });

  it('makes all 256 prefix directories at open, and again if one went missing while closed', async () => {
    const dir = await dirForTest();
    const store = await openForTest(dir);
    const prefixes = (await readdir(join(dir, 'shards'))).sort();
    expect(prefixes).toHaveLength(256);
    expect(prefixes[0]).toBe('00');
    expect(prefixes[255]).toBe('ff');
    await store.close();
    const { id, bytes } = shard('lands in a directory made at open');
    await rm(join(dir, 'shards', id.slice(0, 2)), { recursive: true });
    const again = await openForTest(dir);
    await again.put(id, bytes);
    expect(Buffer.compare(await again.get(id), bytes)).toBe(0);
  });

  it('opens a store on read-only media that lacks prefix directories, and reads it', async () => {
    const dir = await dirForTest();
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { encoding: 'utf8' });
    expect(mounted.status, `mounting a tmpfs needs root: ${mounted.stderr}`).toBe(0);
    try {
      const store = await openForTest(dir);
      const { id, bytes } = shard('kept on read-only media');
      await store.put(id, bytes);
      await store.close();
      // As a format 1 store made before prefix directories came at open: only the one it used, and no packs/.
      for (const prefix of await readdir(join(dir, 'shards'))) {
        if (prefix !== id.slice(0, 2)) await rm(join(dir, 'shards', prefix), { recursive: true });
      }
      await rm(join(dir, 'packs'), { recursive: true });
      await writeFile(join(dir, 'id'), JSON.stringify({ format: 1, id: 'files-000000000001' }));
      expect(spawnSync('mount', ['-o', 'remount,ro', dir]).status).toBe(0);
      const readOnly = await openForTest(dir);
      expect(Buffer.compare(await readOnly.get(id), bytes)).toBe(0);
      await readOnly.close();
    } finally {
      spawnSync('umount', ['-l', dir]);
    }
  });

  it('takes packs another thread wrote: read, listed and counted here and by other openers; not with a capacity, nor closed', async () => {
    const dir = await dirForTest();
    const store = await openForTest(dir);
    const shards = Array.from({ length: 5 }, (_, i) => shard(`packed ${i} `.repeat(i + 1)));
    const target = store.packTarget()!;
    expect(target).toEqual({ dir: join(dir, 'packs'), sync: true });
    const pack = await writePack(target, shards);
    store.packWritten(pack);
    expect(await readdir(join(dir, 'packs'))).toEqual([`${pack.name}.pack`]);
    for (const { id, bytes } of shards) {
      expect(Buffer.compare(await store.get(id), bytes)).toBe(0);
      expect(await store.has(id)).toBe(true);
      const where = store.shardFile(id);
      expect(typeof where === 'string' ? undefined : readBuffered(where)).toEqual(bytes);
    }
    const ids = shards.map((s) => s.id).sort();
    expect((await store.list()).ids).toEqual(ids);
    expect((await store.list({ limit: 2 })).ids).toEqual(ids.slice(0, 2));
    expect((await store.list({ after: ids[2] })).ids).toEqual(ids.slice(3));
    const used = shards.reduce((sum, s) => sum + s.bytes.length, 0);
    expect(await store.stat()).toEqual({ capacity: null, used, shards: 5 });
    // A loose shard and the packed ones list together, in order, each once; a put of a packed one moves it to a file.
    const loose = shard('a plain shard file');
    await store.put(loose.id, loose.bytes);
    await store.put(shards[0].id, shards[0].bytes);
    expect((await store.list()).ids).toEqual([...ids, loose.id].sort());
    expect(store.shardFile(shards[0].id)).toBe(shardPath(dir, shards[0].id));
    expect(await store.stat()).toEqual({ capacity: null, used: used + loose.bytes.length, shards: 6 });

    // Another opener finds the pack: at open, and one written after it opened on its first miss.
    const other = await openForTest(dir);
    expect(await other.stat()).toMatchObject({ shards: 6 });
    const later = [shard('written after the other opened')];
    store.packWritten(await writePack(target, later));
    expect(Buffer.compare(await other.get(later[0].id), later[0].bytes)).toBe(0);
    expect(await other.has(later[0].id)).toBe(true);

    expect((await openForTest(dir, { capacity: 10 ** 9 })).packTarget()).toBeUndefined();
    expect(() => store.packWritten({ name: '0'.repeat(16), ids: ['not an id' as ShardId], lengths: [1] })).toThrowError(/shard id/i);
    await store.close();
    expect(store.packTarget()).toBeUndefined();
  });

  it('deletes packed shards at once; a pack half dead is unpacked into shard files, an empty one removed', async () => {
    const { dir, store, shards, pack } = await packedStore(4);
    const other = await openForTest(dir);

    await store.delete(shards[0].id);
    await expect(store.get(shards[0].id)).rejects.toBeInstanceOf(ShardNotFoundError);
    expect(await store.has(shards[0].id)).toBe(false);
    expect((await store.list()).ids).toEqual(shards.slice(1).map((s) => s.id).sort());
    expect(await store.stat()).toMatchObject({ shards: 3 });
    expect(await tree(join(dir, 'packs'))).toEqual([`${pack.name}.dead`, `${pack.name}.pack`]);
    // Another opener learns of the delete at its next listing.
    expect((await other.list()).ids).not.toContain(shards[0].id);
    expect(await other.stat()).toMatchObject({ shards: 3 });

    // Half dead: a little later (or at close), the two live shards become shard files and the pack goes.
    await store.delete(shards[1].id);
    const files = shards.slice(2).map((s) => join(s.id.slice(0, 2), s.id)).sort();
    await vi.waitFor(async () => expect(await tree(join(dir, 'packs'))).toEqual([]), { timeout: 10_000, interval: 100 });
    expect(await tree(join(dir, 'shards'))).toEqual(files);
    for (const { id, bytes } of shards.slice(2)) {
      expect(Buffer.compare(await store.get(id), bytes)).toBe(0);
      // The other opener knew them in the pack, now gone: it finds the files.
      expect(Buffer.compare(await other.get(id), bytes)).toBe(0);
    }
    expect(await store.stat()).toMatchObject({ shards: 2 });

    // A pack whose every shard is deleted goes at once, with its .dead file.
    const alone = [shard('one of three'), shard('two of three'), shard('three of three')];
    store.packWritten(await writePack(store.packTarget()!, alone));
    for (const { id } of alone) await store.delete(id);
    expect(await tree(join(dir, 'packs'))).toEqual([]);
    expect(await store.stat()).toMatchObject({ shards: 2 });

    // Half dead at close: unpacked then. A .dead file whose pack another process removed goes too.
    const last = [shard('kept through close'), shard('deleted before close')];
    const pack2 = await writePack(store.packTarget()!, last);
    store.packWritten(pack2);
    await store.delete(last[1].id);
    await writeFile(join(dir, 'packs', '0123456789abcdef.dead'), Buffer.alloc(32));
    expect(await tree(join(dir, 'packs'))).toEqual(['0123456789abcdef.dead', `${pack2.name}.dead`, `${pack2.name}.pack`]);
    await store.close();
    expect(await tree(join(dir, 'packs'))).toEqual([]);
    expect(Buffer.compare(await other.get(last[0].id), last[0].bytes)).toBe(0);
    expect(await other.stat()).toMatchObject({ shards: 3 });
  });

  it('an unpack does not undo a repair another process made, nor write back bytes that do not match', async () => {
    const { dir, store: mount, shards: s, pack } = await packedStore(4);
    const path = join(dir, 'packs', `${pack.name}.pack`);
    // Rot in the last shard (s[3]) and in s[2].
    await flipFirstByte(path, (await stat(path)).size - 1);
    await flipFirstByte(path, (await stat(path)).size - s[3].bytes.length - 1);
    const repair = await openForTest(dir);
    await expect(repair.get(s[3].id)).rejects.toBeInstanceOf(ShardCorruptError);
    await repair.delete(s[3].id);
    await repair.put(s[3].id, s[3].bytes);
    // The mount, not knowing of that delete, empties half the pack and unpacks it at close.
    await mount.delete(s[0].id);
    await mount.delete(s[1].id);
    await mount.close();
    const after = await openForTest(dir);
    expect(Buffer.compare(await after.get(s[3].id), s[3].bytes)).toBe(0);
    // The rotted s[2] was not written out as a file; it is missing now, for repair to rebuild.
    await expect(after.get(s[2].id)).rejects.toBeInstanceOf(ShardNotFoundError);
    expect(await tree(join(dir, 'packs'))).toEqual([]);
  });

  it('another opener reads, deletes and lists through a pack that goes under it', async () => {
    const { dir, store: a, shards: s } = await packedStore(6);
    const b = await openForTest(dir);
    expect(await b.has(s[0].id)).toBe(true);
    await a.delete(s[0].id);
    await a.delete(s[1].id);
    await a.delete(s[2].id);
    await a.close();
    const results = await Promise.allSettled([b.get(s[3].id), b.get(s[4].id), b.delete(s[5].id), b.list()]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect((await b.list()).ids).toEqual([s[3].id, s[4].id].sort());
    expect(await b.stat()).toMatchObject({ shards: 2 });
  });

  it('a delete finds a pack another process wrote after this one looked', async () => {
    const dir = await dirForTest();
    const [a, b] = [await openForTest(dir), await openForTest(dir)];
    const one = shard('written by the other process');
    a.packWritten(await writePack(a.packTarget()!, [one, shard('and its neighbour')]));
    await b.delete(one.id);
    expect(await b.has(one.id)).toBe(false);
    expect(await a.has(one.id)).toBe(true);
    expect((await a.list()).ids).not.toContain(one.id);
    expect(await a.has(one.id)).toBe(false);
  });

  it('a .dead record cut short by a crash is ignored, and later records still count', async () => {
    const { dir, store: a, shards: s, pack } = await packedStore(8);
    await a.delete(s[0].id);
    await appendFile(join(dir, 'packs', `${pack.name}.dead`), Buffer.alloc(10, 0xab));
    const b = await openForTest(dir);
    await b.delete(s[3].id);
    const c = await openForTest(dir);
    expect((await c.list()).ids).toEqual(s.slice(1).filter((x) => x !== s[3]).map((x) => x.id).sort());
    expect((await readFile(join(dir, 'packs', `${pack.name}.dead`))).length).toBe(96);
  });

  it('a pack left half dead by a process that stopped is unpacked by the next to open the store', async () => {
    const { dir, shards: s, pack } = await packedStore(4);
    // Two deletes recorded as a stopped process left them, never unpacked.
    await writeFile(join(dir, 'packs', `${pack.name}.dead`), Buffer.from(s[0].id + s[1].id, 'hex'));
    const b = await openForTest(dir);
    expect(await b.stat()).toMatchObject({ shards: 2 });
    await b.close();
    expect(await tree(join(dir, 'packs'))).toEqual([]);
    expect(await tree(join(dir, 'shards'))).toEqual(s.slice(2).map((x) => join(x.id.slice(0, 2), x.id)).sort());
  });

  it('a pack taken in while a delete of the same id is under way keeps its copy', async () => {
    const { dir, store, shards: s, pack } = await packedStore(4);
    const again = await writePack(store.packTarget()!, [s[0], shard('new neighbour')]);
    const deleting = store.delete(s[0].id);
    const dead = join(dir, 'packs', `${pack.name}.dead`);
    for (let turns = 0; !existsSync(dead) && turns < 100_000; turns++) await new Promise((r) => setImmediate(r));
    store.packWritten(again);
    await deleting;
    expect(Buffer.compare(await store.get(s[0].id), s[0].bytes)).toBe(0);
    expect(Buffer.compare(await (await openForTest(dir)).get(s[0].id), s[0].bytes)).toBe(0);
  });

  // A race: before the fix, about one round in 150 missed the shard.
  it('a get or has racing another process’s unpack of the pack finds the shard file it leaves', async () => {
    let misses = 0;
    for (let n = 0; n < 100; n++) {
      const dir = await dirForTest();
      const b = await openForTest(dir, { sync: false });
      const a = await FileStore.open(dir, { sync: false });
      const s = [shard(`x${n}`.padEnd(40, 'a')), shard(`y${n}`.padEnd(40, 'b'))];
      a.packWritten(await writePack(a.packTarget()!, s));
      await a.delete(s[1].id);
      const [got, has] = await Promise.allSettled([b.get(s[0].id), b.has(s[0].id), a.close()]);
      if (got.status === 'rejected' || (has.status === 'fulfilled' && !has.value)) misses++;
    }
    expect(misses).toBe(0);
  });

  it('skips a damaged pack (changed, cut short, another version) and says why; its shards are missing, the rest readable', async () => {
    const dir = await dirForTest();
    const store = await openForTest(dir);
    const good = [shard('in a good pack')];
    store.packWritten(await writePack(store.packTarget()!, good));
    const damage: [string, (path: string) => Promise<void>, RegExp][] = [
      ['index changed', (path) => flipFirstByte(path, 20), /checksum/],
      ['cut short', async (path) => writeFile(path, (await readFile(path)).subarray(0, -1)), /accounts for \d+ bytes, the file has/],
      ['another version', (path) => flipFirstByte(path, 7), /version 254; this Cairn reads version 1/],
      ['not a pack', async (path) => writeFile(path, 'hello'), /shorter than its header/],
    ];
    const bad: Record<string, ShardId> = {};
    for (const [what, harm] of damage) {
      const one = shard(`in a pack that gets ${what}`);
      const pack = await writePack(store.packTarget()!, [one]);
      await harm(join(dir, 'packs', `${pack.name}.pack`));
      bad[what] = one.id;
    }
    const reader = await openForTest(dir);
    expect(Buffer.compare(await reader.get(good[0].id), good[0].bytes)).toBe(0);
    for (const id of Object.values(bad)) await expect(reader.get(id)).rejects.toBeInstanceOf(ShardNotFoundError);
    expect((await reader.list()).ids).toEqual([good[0].id]);
    const reasons = [...reader.damagedPacks().values()];
    expect(reasons).toHaveLength(damage.length);
    for (const [, , why] of damage) expect(reasons.some((r) => why.test(r))).toBe(true);
    for (const reason of reasons) expect(reason).toContain(join(dir, 'packs'));
  });

  it('readPackIndex refuses a count that cannot fit the file before allocating for it', async () => {
    const dir = await dirForTest();
    const store = await openForTest(dir);
    const pack = await writePack(store.packTarget()!, [shard('counted')]);
    const path = join(dir, 'packs', `${pack.name}.pack`);
    const bytes = await readFile(path);
    bytes.writeUInt32LE(0xffffffff, 8);
    await writeFile(path, bytes);
    await expect(readPackIndex(path)).rejects.toThrow(/count of 4294967295 shards does not fit/);
  });

  it('shares one directory between open stores: each sees the others’ shards, counts and records', async () => {
    const dir = await dirForTest();
    const [a, b] = [await openForTest(dir), await openForTest(dir)];
    const shards = Array.from({ length: 30 }, (_, i) => shard(`shared store ${i}`));
    await Promise.all(shards.map(({ id, bytes }, i) => (i % 2 ? a : b).put(id, bytes)));
    const total = shards.reduce((sum, s) => sum + s.bytes.length, 0);
    expect(await a.stat()).toEqual({ capacity: null, used: total, shards: 30 });
    expect(await b.stat()).toEqual({ capacity: null, used: total, shards: 30 });
    expect((await b.list()).ids).toEqual(shards.map((s) => s.id).sort());
    await Promise.all(shards.slice(0, 10).map(({ id }) => a.delete(id)));
    expect(await b.has(shards[0].id)).toBe(false);
    expect((await b.stat()).shards).toBe(20);

    await a.putLease({ volumeId, epoch: 1, holder: 'a', expiresAtMs: 10 });
    const error = await b.putLease({ volumeId, epoch: 1, holder: 'b', expiresAtMs: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseConflictError);
  });

  it('counts again before refusing for space: another opener may have freed it', async () => {
    const dir = await dirForTest();
    const [small, other] = [await openForTest(dir, { capacity: 3000 }), await openForTest(dir)];
    const [one, two] = [shard('1'.repeat(2000)), shard('2'.repeat(2000))];
    await small.put(one.id, one.bytes);
    await other.delete(one.id);
    await small.put(two.id, two.bytes);
    expect(await small.stat()).toEqual({ capacity: 3000, used: 2000, shards: 1 });
  });

  it('applies the capacity given at each open to what is already stored', async () => {
    const dir = await dirForTest();
    const first = await openForTest(dir);
    const { id, bytes } = shard('x'.repeat(100));
    await first.put(id, bytes);
    const store = await openForTest(dir, { capacity: 120 });
    expect(await store.stat()).toEqual({ capacity: 120, used: 100, shards: 1 });
    const more = shard('y'.repeat(21));
    await expect(store.put(more.id, more.bytes)).rejects.toMatchObject({ code: 'store.full' });
  });

  it('removes temp files of writers that died, leaving live writers’ and foreign names alone', async () => {
    const dir = await dirForTest();
    const store = await openForTest(dir);
    const { id, bytes } = shard('kept');
    await store.put(id, bytes);
    const sub = join(dir, 'shards', id.slice(0, 2));
    const dead = `.${id.slice(0, 16)}.${deadPid()}.0123456789ab.tmp`;
    const live = `.${id.slice(0, 16)}.${process.pid}.0123456789ab.tmp`;
    await writeFile(join(sub, dead), 'half a shard');
    await writeFile(join(sub, live), 'being written');
    await writeFile(join(dir, 'heads', `.${volumeId.slice(0, 16)}.${deadPid()}.0123456789ab.tmp`), '{');
    await writeFile(join(dir, 'packs', `.0123456789abcdef.${deadPid()}.0123456789ab.tmp`), 'half a pack');
    await openForTest(dir);
    expect((await readdir(sub)).sort()).toEqual([live, id].sort());
    expect(await readdir(join(dir, 'heads'))).toEqual([]);
    expect(await readdir(join(dir, 'packs'))).toEqual([]);
    expect(await store.stat()).toEqual({ capacity: null, used: bytes.length, shards: 1 });
  });

  it('breaks a lock left by a dead process (or never written) once it is old', async () => {
    const dir = await dirForTest();
    const store = await openForTest(dir);
    const lock = join(dir, 'locks', volumeId);
    await writeFile(lock, JSON.stringify({ pid: deadPid(), nonce: 'gone' }));
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    await store.putLease({ volumeId, epoch: 1, holder: 'after-crash', expiresAtMs: 1 });
    expect((await store.getLease(volumeId))?.holder).toBe('after-crash');
    expect(await readdir(join(dir, 'locks'))).toEqual([]);

    // Empty: its creator died between creating and writing it.
    await writeFile(lock, '');
    await utimes(lock, old, old);
    await store.putLease({ volumeId, epoch: 2, holder: 'after-second-crash', expiresAtMs: 1 });
    expect((await store.getLease(volumeId))?.epoch).toBe(2);
  });

  it('waits for a live holder’s lock, then fails naming it; never breaks it', async () => {
    const dir = await dirForTest();
    const store = await openForTest(dir, { lockWaitMs: 300 });
    const lock = join(dir, 'locks', volumeId);
    await writeFile(lock, JSON.stringify({ pid: process.pid, nonce: 'someone-else' }));
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    const started = Date.now();
    const error = await store.putHead({ volumeId, epoch: 1, seq: 1, body: new Uint8Array() }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain(lock);
    expect((error as Error).message).toContain(`process ${process.pid}`);
    expect(await store.getHead(volumeId)).toBeUndefined();
    expect(await readFile(lock, 'utf8')).toContain('someone-else');

    await rm(lock);
    await store.putHead({ volumeId, epoch: 1, seq: 1, body: new Uint8Array() });
  });

  it('refuses to adopt a directory holding other files, and a store of another format', async () => {
    const foreign = await dirForTest();
    await writeFile(join(foreign, 'notes.txt'), 'mine');
    const error = await FileStore.open(foreign).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/not a Cairn shard store \(notes\.txt\)/);
    expect(await readdir(foreign)).toEqual(['notes.txt']);

    const future = await dirForTest();
    await writeFile(join(future, 'id'), JSON.stringify({ format: 3, id: 'files-000000000000' }));
    await expect(FileStore.open(future)).rejects.toThrow(/format 3; this Cairn reads formats 1 and 2/);

    // Format 1 (before packs) is read as it is and marked 2, so a Cairn without packs will not open it.
    const older = await dirForTest();
    const kept = shard('kept since format 1');
    await mkdir(join(older, 'shards', kept.id.slice(0, 2)), { recursive: true });
    await writeFile(join(older, 'shards', kept.id.slice(0, 2), kept.id), kept.bytes);
    await writeFile(join(older, 'id'), JSON.stringify({ format: 1, id: 'files-0123456789ab' }));
    const upgraded = await openForTest(older);
    expect(upgraded.id).toBe('files-0123456789ab');
    expect(Buffer.compare(await upgraded.get(kept.id), kept.bytes)).toBe(0);
    expect(JSON.parse(await readFile(join(older, 'id'), 'utf8'))).toEqual({ format: 2, id: 'files-0123456789ab' });

    const empty = await dirForTest();
    await mkdir(join(empty, 'nested'));
    const made = await openForTest(join(empty, 'nested', 'deeper'));
    expect((await stat(join(made.dir, 'id'))).isFile()).toBe(true);
  });

  it('explains a path it cannot open, naming it', async () => {
    const dir = await dirForTest();
    const file = join(dir, 'not-a-directory');
    await writeFile(file, 'x');
    const error = await FileStore.open(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain(file);
  });

  describe('across processes', () => {
    it('two processes put, get and delete in one store at once; the counts match the union', async () => {
      const dir = await dirForTest();
      const watcher = await openForTest(dir);
      const outcomes = await runWorkers<ShardsOutcome>(
        ['left', 'right'].map((name) => ({ kind: 'shards' as const, dir, name, own: 60, shared: 30 })),
      );
      const expected = new Set(outcomes.flatMap((o) => [...o.kept, ...o.shared]));
      for (const gone of outcomes.flatMap((o) => o.deleted)) expect(expected.has(gone)).toBe(false);
      const ids = (await watcher.list()).ids;
      expect(ids).toEqual([...expected].sort());
      const sizes = await Promise.all(ids.map(async (id) => (await watcher.get(id)).length));
      expect(await watcher.stat()).toEqual({
        capacity: null,
        used: sizes.reduce((a, b) => a + b, 0),
        shards: expected.size,
      });
      expect(await watcher.get(labelledShard('shared 0').id)).toEqual(labelledShard('shared 0').bytes);
      // No temp file is left behind by the racing renames.
      expect((await tree(join(dir, 'shards'))).every((path) => /^[0-9a-f]{2}\/[0-9a-f]{64}$/.test(path))).toBe(true);
    });

    it('lease takeovers raced by three processes: no epoch is granted twice, the last grant holds', async () => {
      const dir = await dirForTest();
      const holders = ['mount-a', 'mount-b', 'mount-c'];
      const outcomes = await runWorkers<LeasesOutcome>(
        holders.map((holder) => ({ kind: 'leases' as const, dir, volumeId, holder, rounds: 20 })),
      );
      const grants = outcomes.flatMap((o, i) => o.takeovers.map((epoch) => ({ epoch, holder: holders[i] })));
      const epochs = grants.map((g) => g.epoch);
      expect(new Set(epochs).size).toBe(epochs.length);
      // A renewal is legal only at an epoch its own holder was granted.
      for (const o of outcomes) {
        for (const epoch of o.renewals) expect(o.takeovers).toContain(epoch);
        expect(o.takeovers.length + o.renewals.length + o.conflicts).toBe(40);
      }
      expect(outcomes.reduce((sum, o) => sum + o.conflicts, 0)).toBeGreaterThan(0);
      const last = grants.reduce((a, b) => (b.epoch > a.epoch ? b : a));
      const store = await openForTest(dir);
      expect(await store.getLease(volumeId)).toMatchObject({ epoch: last.epoch, holder: last.holder });
    });

    it('heads raced by three processes: each seq is accepted once, seq 1 by exactly one writer', async () => {
      const dir = await dirForTest();
      const names = ['writer-a', 'writer-b', 'writer-c'];
      const outcomes = await runWorkers<HeadsOutcome>(
        names.map((name) => ({ kind: 'heads' as const, dir, volumeId, name, rounds: 20 })),
      );
      const accepted = outcomes.flatMap((o, i) => o.accepted.map((seq) => ({ seq, name: names[i] })));
      const seqs = accepted.map((a) => a.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs.filter((seq) => seq === 1)).toHaveLength(1);
      const last = accepted.reduce((a, b) => (b.seq > a.seq ? b : a));
      const store = await openForTest(dir);
      const head = await store.getHead(volumeId);
      expect(head).toMatchObject({ epoch: 1, seq: last.seq });
      expect(new TextDecoder().decode(head!.body)).toBe(`${last.name} ${last.seq}`);
    });
  });
});
