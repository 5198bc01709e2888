import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { Level } from 'level';
import { describe, expect, it } from 'vitest';
import type { ShardId } from '../../src/crypto/index.js';
import {
  LocalStore,
  type LocalStoreOptions,
  OperationAbortedError,
  StoreUnavailableError,
} from '../../src/store/index.js';
import { shardStoreConformance, type StoreHarness } from './conformance.js';
import { storeTestKit } from './kit.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cairn-store-'));
}

/** Flips the first byte of a stored shard with LevelDB directly, as rot on disk would. */
async function flipFirstByte(dir: string, id: ShardId): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  try {
    const bytes = (await db.get(id))!;
    bytes[0] ^= 0xff;
    await db.put(id, bytes);
  } finally {
    await db.close();
  }
}

async function localHarness(options: LocalStoreOptions): Promise<StoreHarness> {
  const dir = await tempDir();
  let store: LocalStore;
  try {
    store = await LocalStore.open(dir, options);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  // The directory is locked while the store is open, so reaching the bytes means closing it first.
  const reopen = async () => {
    await store.close();
    store = await LocalStore.open(dir, options);
    return store;
  };
  return {
    get store() {
      return store;
    },
    reopen,
    async corrupt(id) {
      await store.close();
      await flipFirstByte(dir, id);
      await reopen();
    },
    async cleanup() {
      try {
        await store.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

shardStoreConformance('LocalStore', ({ capacity }) => localHarness({ capacity }), {
  persistent: true,
  corruptible: true,
  capacity: true,
});

describe('LocalStore', () => {
  const { dirForTest, openForTest, shard, onCleanup } = storeTestKit('store', (dir, options?: LocalStoreOptions) => LocalStore.open(dir, options));

  it('refuses a second open of the same directory in this process, naming the directory', async () => {
    const dir = await dirForTest();
    const first = await openForTest(dir);
    const error = await LocalStore.open(dir).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toMatch(/already open/);
    await first.close();
    await openForTest(dir);
  });

  it('refuses a directory another process holds open, naming the directory', async () => {
    const dir = await dirForTest();
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { Level } from 'level';
         await new Level(process.argv[1]).open();
         process.stdout.write('open\\n');
         setInterval(() => {}, 1000);`,
        dir,
      ],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    onCleanup(async () => {
      if (holder.exitCode === null) {
        holder.kill();
        await once(holder, 'exit');
      }
    });
    await once(holder.stdout, 'data');
    const error = await LocalStore.open(dir).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toMatch(/already open in another process/);
  });

  it('keeps a default id across reopen; an explicit id applies to that open only', async () => {
    const dir = await dirForTest();
    const first = await LocalStore.open(dir);
    expect(first.id).toMatch(/^local-[0-9a-f]{12}$/);
    await first.close();
    const named = await LocalStore.open(dir, { id: 'rack-7' });
    expect(named.id).toBe('rack-7');
    const locked = await LocalStore.open(dir, { id: 'rack-8' }).then(() => undefined, (e: unknown) => e);
    expect(locked).toMatchObject({ code: 'store.unavailable', storeId: 'rack-8' });
    expect((locked as Error).message).toContain(dir);
    await named.close();
    expect((await openForTest(dir)).id).toBe(first.id);
  });

  it('writes nothing into the directory but LevelDB files holding shards and counters', async () => {
    const dir = await dirForTest();
    const store = await LocalStore.open(dir, { id: 'secret-store-name' });
    const { id, bytes } = shard('opaque shard bytes');
    await store.put(id, bytes);
    await store.close();
    const files = await readdir(dir);
    for (const file of files) {
      expect(file).toMatch(/^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-\d+|\d+\.(log|ldb))$/);
    }
    const everything = Buffer.concat(await Promise.all(files.map((file) => readFile(join(dir, file)))));
    expect(everything.includes('secret-store-name')).toBe(false);
    expect(everything.includes(dir)).toBe(false);
  });

  it('refuses to adopt a LevelDB directory that is not a shard store', async () => {
    const dir = await dirForTest();
    const foreign = new Level(dir);
    await foreign.put('someone', 'else');
    await foreign.close();
    const error = await LocalStore.open(dir).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/not a Cairn shard store/);
    await openForTest(await dirForTest());
  });

  it('explains a path it cannot open, naming it', async () => {
    const dir = await dirForTest();
    const file = join(dir, 'not-a-directory');
    await writeFile(file, 'x');
    const error = await LocalStore.open(file).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain(file);
  });

  it('drops a put aborted while it waits behind other writes, counting nothing', async () => {
    const store = await openForTest(await dirForTest());
    const ahead = Array.from({ length: 20 }, (_, i) => shard(`ahead ${i}`));
    const writes = ahead.map(({ id, bytes }) => store.put(id, bytes));
    const late = shard('late');
    const controller = new AbortController();
    const aborted = store.put(late.id, late.bytes, { signal: controller.signal });
    controller.abort(new Error('no longer needed'));
    await expect(aborted).rejects.toBeInstanceOf(OperationAbortedError);
    await Promise.all(writes);
    expect(await store.has(late.id)).toBe(false);
    expect((await store.stat()).shards).toBe(20);
  });

  it('applies the capacity given at each open to what is already stored', async () => {
    const dir = await dirForTest();
    const first = await LocalStore.open(dir);
    const { id, bytes } = shard('x'.repeat(100));
    await first.put(id, bytes);
    await first.close();
    const store = await openForTest(dir, { capacity: 120 });
    expect(await store.stat()).toEqual({ capacity: 120, used: 100, shards: 1 });
    const more = shard('y'.repeat(21));
    await expect(store.put(more.id, more.bytes)).rejects.toMatchObject({ code: 'store.full' });
  });
});
