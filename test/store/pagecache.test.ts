import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { closeSync, fsyncSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ShardId } from '../../src/crypto/index.js';
import { type FileRange, FileStore, writePack } from '../../src/store/index.js';
import { repoRoot } from '../../src/repo/index.js';
import { dropCachedPages, dropsPageCache, loadPageCacheHelper, pageCacheProblem } from '../../src/store/pagecache.js';
import { rangeReads, readBuffered } from '../../src/store/range-reads.js';

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

  /** A file of `lengths` byte runs after a header that leaves none of them aligned, synced and out of the page cache. */
  const packLike = async (lengths: number[]) => {
    const path = join(await tempDir(), 'pack');
    const parts = [randomBytes(77), ...lengths.map((n) => randomBytes(n))];
    writeFileSync(path, Buffer.concat(parts));
    const fd = openSync(path, 'r+');
    fsyncSync(fd);
    dropCachedPages(fd);
    closeSync(fd);
    expect(cachedBytes(path)).toBe(0);
    let offset = 77;
    const ranges = parts.slice(1).map((bytes) => {
      const range = { path, offset, length: bytes.length };
      offset += bytes.length;
      return { range, bytes };
    });
    return { path, ranges };
  };

  it('a stripe worker reads packed shards past the page cache, at any offset, into views that stay apart until release', async () => {
    const { path, ranges } = await packLike([10_000, SIZE, 5, SIZE]);
    const reads = rangeReads(ranges.length, SIZE);
    try {
      const got = ranges.map(({ range }) => reads.read(range));
      got.forEach((bytes, i) => expect(Buffer.from(bytes!)).toEqual(ranges[i].bytes));
      expect(cachedBytes(path)).toBe(0);
      // A range longer than the lease was made for is still read, through the page cache.
      const long = { path, offset: 0, length: SIZE + 100 };
      expect(reads.read(long)?.length).toBe(SIZE + 100);
      expect(cachedBytes(path)).toBeGreaterThan(0);
    } finally {
      reads.release();
    }
    expect(() => reads.read(ranges[0].range)).toThrow(/after release/);
  });

  it('while one stripe holds the arena another reads through the page cache; a released arena serves again, grown to a larger stripe', async () => {
    const { path, ranges } = await packLike([SIZE, SIZE]);
    const first = rangeReads(1, 4096);
    try {
      const second = rangeReads(2, SIZE);
      expect(Buffer.from(second.read(ranges[0].range)!)).toEqual(ranges[0].bytes);
      second.release();
      expect(cachedBytes(path)).toBeGreaterThan(0);
    } finally {
      first.release();
    }
    const fd = openSync(path, 'r');
    dropCachedPages(fd);
    closeSync(fd);
    const third = rangeReads(8, SIZE * 2);
    try {
      expect(Buffer.from(third.read(ranges[1].range)!)).toEqual(ranges[1].bytes);
      expect(cachedBytes(path)).toBe(0);
    } finally {
      third.release();
    }
  });

  it('a range past the end of its file, or in a file that is gone, reads as undefined either way', async () => {
    const { path, ranges } = await packLike([SIZE]);
    const past = { path, offset: 77 + 4096, length: SIZE };
    const gone = { path: `${path}.gone`, offset: 0, length: 10 };
    // Room for one range: failed reads take none, so the good one still lands in the arena, past the page cache.
    const reads = rangeReads(1, SIZE);
    try {
      expect(reads.read(past)).toBeUndefined();
      expect(reads.read(gone)).toBeUndefined();
      const fd = openSync(path, 'r');
      dropCachedPages(fd);
      closeSync(fd);
      expect(Buffer.from(reads.read(ranges[0].range)!)).toEqual(ranges[0].bytes);
      expect(cachedBytes(path)).toBe(0);
    } finally {
      reads.release();
    }
    expect(readBuffered(past)).toBeUndefined();
    expect(readBuffered(gone)).toBeUndefined();
  });

  it('where the address space for an arena is refused (ulimit -v), stripes are read through the page cache', async () => {
    const { ranges } = await packLike([SIZE]);
    const { range, bytes } = ranges[0];
    // V8 reserves several GiB of address space for each WebAssembly memory; 6 GB of it leaves Node itself running.
    const script = `import { rangeReads } from ${JSON.stringify(join(repoRoot(), 'dist', 'src', 'store', 'range-reads.js'))};
      const reads = rangeReads(1, ${SIZE});
      const got = reads.read(${JSON.stringify(range)});
      reads.release();
      process.stdout.write(require('node:crypto').createHash('sha256').update(got).digest('hex'));`.replace('require(\'node:crypto\')', '(await import(\'node:crypto\'))');
    const out = execFileSync('bash', ['-c', `ulimit -v 6000000 && exec "${process.execPath}" --input-type=module -e "$SCRIPT"`], {
      encoding: 'utf8',
      env: { ...process.env, SCRIPT: script },
    });
    expect(out).toBe(createHash('sha256').update(bytes).digest('hex'));
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
