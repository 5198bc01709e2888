import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ShardId } from '../../src/crypto/index.js';
import { type FileRange, FileStore, writePack } from '../../src/store/index.js';
import { repoRoot } from '../../src/repo/index.js';
import { dropCachedPages, dropsPageCache, loadPageCacheHelper, pageCacheProblem } from '../../src/store/pagecache.js';

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
  const fsType = (dir: string) => execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  // tmpfs pages are the file itself (nothing to drop): the checkout's .cache then, which is on a disk.
  const tempDir = async () => {
    let base = tmpdir();
    if (fsType(base) === 'tmpfs') {
      base = join(repoRoot(), '.cache');
      await mkdir(base, { recursive: true });
    }
    const dir = await mkdtemp(join(base, 'cairn-pagecache-'));
    dirs.push(dir);
    expect(fsType(dir), `${dir} must be on a disk file system`).not.toBe('tmpfs');
    return dir;
  };

  it('the helper is built: setup compiles native/pagecache.c', () => {
    expect(pageCacheProblem).toBeUndefined();
    expect(dropsPageCache).toBe(true);
  });

  it('a helper file that does not load (built elsewhere, cut short) leaves shards cached instead of failing', async () => {
    const dir = await tempDir();
    const broken = join(dir, 'pagecache.node');
    await writeFile(broken, 'not a shared object');
    const { helper, problem } = loadPageCacheHelper(broken);
    expect(helper).toBeUndefined();
    expect(problem).toContain(`${broken} does not load`);
    expect(loadPageCacheHelper(join(dir, 'absent.node')).problem).toContain('is missing');
  });

  it('a synced put leaves none of the shard in the page cache; an unsynced one, and a head, stay cached', async () => {
    const dir = await tempDir();
    const synced = await FileStore.open(dir);
    const unsynced = await FileStore.open(await tempDir(), { sync: false });
    try {
      const a = shard();
      await synced.put(a.id, a.bytes);
      expect(Buffer.from((await synced.get(a.id))!)).toEqual(a.bytes);
      // The read just now cached it again: write another and look before reading.
      const b = shard();
      await synced.put(b.id, b.bytes);
      expect(cachedBytes(synced.shardFile(b.id) as string)).toBe(0);
      const c = shard();
      await unsynced.put(c.id, c.bytes);
      expect(cachedBytes(unsynced.shardFile(c.id) as string)).toBeGreaterThanOrEqual(SIZE - 4096);
      // Heads are read at every update: they keep their pages.
      const volumeId = 'ab'.repeat(16);
      await synced.putHead({ volumeId, epoch: 1, seq: 1, body: new Uint8Array(100) });
      expect(cachedBytes(join(dir, 'heads', volumeId))).toBeGreaterThan(0);
    } finally {
      await synced.close();
      await unsynced.close();
    }
  });

  it('writePack, what the stripe workers call, drops its pages the same way', async () => {
    const store = await FileStore.open(await tempDir());
    try {
      const a = shard();
      const b = shard();
      const pack = await writePack(store.packTarget()!, [a, b]);
      store.packWritten(pack);
      const range = store.shardFile(b.id) as FileRange;
      expect(cachedBytes(range.path)).toBe(0);
      expect(Buffer.from((await store.get(a.id))!)).toEqual(a.bytes);
    } finally {
      await store.close();
    }
  });

  it('a closed descriptor is refused without harm; anything but a whole number >= 0 is a TypeError', async () => {
    const dir = await tempDir();
    const fd = openSync(join(dir, 'x'), 'w');
    closeSync(fd);
    expect(() => dropCachedPages(fd)).not.toThrow();
    for (const bad of ['3', Number.NaN, -1, 3.5, Number.POSITIVE_INFINITY, undefined]) {
      expect(() => dropCachedPages(bad as unknown as number), String(bad)).toThrow(TypeError);
    }
  });
});
