import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ShardId } from '../../src/crypto/index.js';
import { FileStore, writeShardFile } from '../../src/store/index.js';
import { PAGE_CACHE_HELPER, dropCachedPages, dropsPageCache } from '../../src/store/pagecache.js';

/** Bytes of `path` in the page cache, as util-linux's fincore counts them (mincore(2)). */
function cachedBytes(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
}

const SIZE = 256 * 1024 + 12;
const shard = () => {
  const bytes = randomBytes(SIZE);
  return { id: createHash('sha256').update(bytes).digest('hex') as ShardId, bytes };
};

describe('shard files and the page cache', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-pagecache-'));
    dirs.push(dir);
    const type = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
    // tmpfs pages are the file itself: nothing to drop, and this test would prove nothing.
    expect(type, `${dir} must be on a disk file system`).not.toBe('tmpfs');
    return dir;
  };

  it('the helper is built: setup compiles native/pagecache.c', () => {
    expect(dropsPageCache, `${PAGE_CACHE_HELPER} is missing: run npm run setup (needs cc and Node's headers)`).toBe(true);
  });

  it('a synced put leaves none of the shard in the page cache; an unsynced one stays cached', async () => {
    const synced = await FileStore.open(await tempDir());
    const unsynced = await FileStore.open(await tempDir(), { sync: false });
    try {
      const a = shard();
      await synced.put(a.id, a.bytes);
      expect(Buffer.from((await synced.get(a.id))!)).toEqual(a.bytes);
      // The read just now cached it again: write another and look before reading.
      const b = shard();
      await synced.put(b.id, b.bytes);
      expect(cachedBytes(synced.shardFile(b.id))).toBe(0);
      const c = shard();
      await unsynced.put(c.id, c.bytes);
      expect(cachedBytes(unsynced.shardFile(c.id))).toBeGreaterThanOrEqual(SIZE - 4096);
    } finally {
      await synced.close();
      await unsynced.close();
    }
  });

  it('the stripe workers’ shard writes (writeShardFile) drop their pages the same way', async () => {
    const store = await FileStore.open(await tempDir());
    try {
      const a = shard();
      const target = store.shardFileTarget(a.id)!;
      expect(await writeShardFile(target, a.bytes)).toBeUndefined();
      expect(cachedBytes(target.path)).toBe(0);
      expect(Buffer.from((await store.get(a.id))!)).toEqual(a.bytes);
    } finally {
      await store.close();
    }
  });

  it('a bad descriptor is refused without harm; a non-number is a TypeError', async () => {
    const dir = await tempDir();
    const fd = openSync(join(dir, 'x'), 'w');
    closeSync(fd);
    expect(() => dropCachedPages(fd)).not.toThrow();
    expect(() => dropCachedPages('3' as unknown as number)).toThrow(TypeError);
  });
});
