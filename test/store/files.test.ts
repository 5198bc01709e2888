import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ShardId } from '../../src/crypto/index.js';
import {
  FileStore,
  type FileStoreOptions,
  LeaseConflictError,
  StoreUnavailableError,
  writeShardFile,
} from '../../src/store/index.js';
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
      // As a store made before prefix directories came at open: only the one it used.
      for (const prefix of await readdir(join(dir, 'shards'))) {
        if (prefix !== id.slice(0, 2)) await rm(join(dir, 'shards', prefix), { recursive: true });
      }
      expect(spawnSync('mount', ['-o', 'remount,ro', dir]).status).toBe(0);
      const readOnly = await openForTest(dir);
      expect(Buffer.compare(await readOnly.get(id), bytes)).toBe(0);
      await readOnly.close();
    } finally {
      spawnSync('umount', ['-l', dir]);
    }
  });

  it('lets another thread write a shard file itself, as put would; not when it has a capacity to enforce', async () => {
    const dir = await dirForTest();
    const store = await openForTest(dir);
    const { id, bytes } = shard('written through shardFileTarget');
    const target = store.shardFileTarget(id)!;
    expect(target).toEqual({ path: shardPath(dir, id), sync: true });
    expect(await writeShardFile(target, bytes)).toBeUndefined();
    store.shardFileWritten(id, undefined, bytes.length);
    expect(Buffer.compare(await store.get(id), bytes)).toBe(0);
    expect((await store.list()).ids).toEqual([id]);
    expect(await store.stat()).toMatchObject({ shards: 1, used: bytes.length });
    expect(await writeShardFile(target, bytes)).toBe(bytes.length);
    expect(() => store.shardFileTarget('not an id' as ShardId)).toThrowError(/shard id/i);
    expect((await openForTest(dir, { capacity: 10 ** 9 })).shardFileTarget(id)).toBeUndefined();
    await store.close();
    expect(store.shardFileTarget(id)).toBeUndefined();
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
    await openForTest(dir);
    expect((await readdir(sub)).sort()).toEqual([live, id].sort());
    expect(await readdir(join(dir, 'heads'))).toEqual([]);
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
    await writeFile(join(future, 'id'), JSON.stringify({ format: 2, id: 'files-000000000000' }));
    await expect(FileStore.open(future)).rejects.toThrow(/format 2/);

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
