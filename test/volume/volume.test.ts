import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { newKey } from '../../src/crypto/index.js';
import type { ShardId } from '../../src/crypto/index.js';
import { FileStore, MemoryStore } from '../../src/store/index.js';
import { StripeEngine } from '../../src/stripe/index.js';
import { Backend, FencedError, FsError, Volume, type VolumeConfig, VolumeBusyError } from '../../src/volume/index.js';
import { tempDir } from '../helpers/tmp.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_APPEND = 0o2000;
const O_TRUNC = 0o1000;

const root = tempDir('volume');
let journals = 0;
const engine = new StripeEngine(2);
afterAll(() => engine.close());

/** A memory store whose bytes can rot at rest: what it hands out no longer matches the id. */
class RottingStore extends MemoryStore {
  rotten = false;

  protected override async getShard(id: ShardId): Promise<Uint8Array | undefined> {
    const bytes = await super.getShard(id);
    if (bytes && this.rotten) bytes[bytes.length - 1] ^= 0x5a;
    return bytes;
  }
}

function setup(blockSize = 64 * 1024) {
  const backend = new Backend(Array.from({ length: 6 }, (_, i) => new RottingStore({ id: `mem-${i}` })));
  const config: VolumeConfig = { id: randomBytes(16), key: newKey(), k: 4, m: 2, blockSize };
  const open = (options: { readOnly?: boolean; forceTakeover?: boolean; dirtyLimitBytes?: number } = {}) =>
    Volume.open(config, backend, { ...options, engine, journalDir: join(root, `journal-${++journals}`) });
  return { backend, config, open };
}

async function errno(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FsError) return err.errno;
    throw err;
  }
  return 'no error';
}

async function writeFile(v: Volume, path: string, data: Uint8Array | string, flags = O_WRONLY) {
  const fh = await v.fs.create(path, 0o644, flags);
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  await v.fs.write(fh, bytes, bytes.length, 0);
  await v.fs.flush(fh);
  await v.fs.release(fh);
}

async function readFile(v: Volume, path: string): Promise<Uint8Array> {
  const size = (await v.fs.getattr(path)).size;
  const fh = await v.fs.open(path, O_RDONLY);
  const out = new Uint8Array(size);
  await v.fs.read(fh, out, size, 0);
  await v.fs.release(fh);
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('volume filesystem semantics', () => {
  it('directories, files, errno for each failure', async () => {
    const { open } = setup();
    const v = await open();
    await v.fs.mkdir('/a', 0o755);
    expect(await errno(v.fs.mkdir('/a', 0o755))).toBe('EEXIST');
    expect(await errno(v.fs.mkdir('/missing/b', 0o755))).toBe('ENOENT');
    await writeFile(v, '/a/f', 'hello');
    expect(await errno(v.fs.rmdir('/a'))).toBe('ENOTEMPTY');
    expect(await errno(v.fs.rmdir('/a/f'))).toBe('ENOTDIR');
    expect(await errno(v.fs.mkdir('/a/f/x', 0o755))).toBe('ENOTDIR');
    expect(await errno(v.fs.unlink('/a'))).toBe('EISDIR');
    expect(await errno(v.fs.open('/a', O_WRONLY))).toBe('EISDIR');
    expect(await errno(v.fs.getattr('/nope'))).toBe('ENOENT');
    expect(await errno(v.fs.mkdir(`/${'x'.repeat(256)}`, 0o755))).toBe('ENAMETOOLONG');
    expect(await errno(v.fs.readlink('/a/f'))).toBe('EINVAL');
    expect((await v.fs.readdir('/')).sort()).toEqual(['a']);
    expect((await v.fs.getattr('/')).nlink).toBe(3);
    await v.close();
  });

  it('sparse files past 4 GiB, random writes inside blocks, truncate and O_APPEND', async () => {
    const { open } = setup();
    const v = await open();
    const fh = await v.fs.create('/big', 0o644, O_RDWR);
    const far = 5 * 2 ** 30 + 12345;
    await v.fs.write(fh, new TextEncoder().encode('far away'), 8, far);
    await v.fs.write(fh, new TextEncoder().encode('XY'), 2, 70_000);
    expect((await v.fs.fgetattr(fh)).size).toBe(far + 8);
    const probe = new Uint8Array(12);
    await v.fs.read(fh, probe, 12, far - 4);
    expect([...probe.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    expect(text(probe.subarray(4))).toBe('far away');
    await v.fs.fsync(fh, false);
    await v.fs.write(fh, new TextEncoder().encode('Z'), 1, 70_001);
    const mid = new Uint8Array(4);
    await v.fs.read(fh, mid, 4, 69_999);
    expect([...mid]).toEqual([0, 88, 90, 0]);
    await v.fs.ftruncate(fh, 70_001);
    await v.fs.ftruncate(fh, 80_000);
    const after = new Uint8Array(3);
    await v.fs.read(fh, after, 3, 70_000);
    expect([...after]).toEqual([88, 0, 0]);
    await v.fs.release(fh);

    await writeFile(v, '/log', 'one\n');
    const ap = await v.fs.open('/log', O_WRONLY | O_APPEND);
    await v.fs.write(ap, new TextEncoder().encode('two\n'), 4, 0);
    await v.fs.release(ap);
    expect(text(await readFile(v, '/log'))).toBe('one\ntwo\n');
    const tr = await v.fs.open('/log', O_WRONLY | O_TRUNC);
    await v.fs.release(tr);
    expect((await v.fs.getattr('/log')).size).toBe(0);
    await v.close();
  });

  it('rename replaces atomically; hard links; unlinked open files; symlinks; attributes; xattrs', async () => {
    const { open } = setup();
    const v = await open();
    await writeFile(v, '/x', 'new');
    await writeFile(v, '/y', 'old');
    await v.fs.rename('/x', '/y');
    expect(text(await readFile(v, '/y'))).toBe('new');
    expect(await errno(v.fs.getattr('/x'))).toBe('ENOENT');
    await v.fs.mkdir('/d', 0o755);
    await v.fs.mkdir('/e', 0o755);
    await writeFile(v, '/e/inside', '1');
    expect(await errno(v.fs.rename('/d', '/e'))).toBe('ENOTEMPTY');
    expect(await errno(v.fs.rename('/y', '/d'))).toBe('EISDIR');
    expect(await errno(v.fs.rename('/d', '/y'))).toBe('ENOTDIR');
    expect(await errno(v.fs.rename('/e', '/e/sub'))).toBe('EINVAL');

    await v.fs.link('/y', '/y2');
    expect((await v.fs.getattr('/y')).nlink).toBe(2);
    expect(await errno(v.fs.link('/d', '/d2'))).toBe('EPERM');
    expect(await errno(v.fs.link('/y', '/y2'))).toBe('EEXIST');

    const fh = await v.fs.open('/y2', O_RDONLY);
    await v.fs.unlink('/y');
    await v.fs.unlink('/y2');
    const buf = new Uint8Array(3);
    expect(await v.fs.read(fh, buf, 3, 0)).toBe(3);
    expect(text(buf)).toBe('new');
    await v.fs.release(fh);
    expect(await errno(v.fs.getattr('/y2'))).toBe('ENOENT');

    await v.fs.symlink('/d', '/link');
    expect(await v.fs.readlink('/link')).toBe('/d');
    expect(await errno(v.fs.symlink('/d', '/link'))).toBe('EEXIST');

    await v.fs.chmod('/d', 0o700);
    await v.fs.chown('/d', 1000, 1000);
    await v.fs.utimens('/d', 1_000_000, 2_000_000);
    const a = await v.fs.getattr('/d');
    expect(a.mode & 0o7777).toBe(0o700);
    expect([a.uid, a.gid, a.atimeMs, a.mtimeMs]).toEqual([1000, 1000, 1_000_000, 2_000_000]);

    await v.fs.setxattr('/d', 'user.note', new TextEncoder().encode('hi'), 0);
    expect(text(await v.fs.getxattr('/d', 'user.note'))).toBe('hi');
    expect(await v.fs.listxattr('/d')).toEqual(['user.note']);
    expect(await errno(v.fs.setxattr('/d', 'user.note', new Uint8Array(1), 1))).toBe('EEXIST');
    expect(await errno(v.fs.setxattr('/d', 'user.other', new Uint8Array(1), 2))).toBe('ENODATA');
    await v.fs.removexattr('/d', 'user.note');
    expect(await errno(v.fs.getxattr('/d', 'user.note'))).toBe('ENODATA');
    await v.close();
  });
});

describe('commits, reopening and the single writer', () => {
  it('what was fsynced is there after reopening (names, bytes, attributes)', async () => {
    const { open } = setup();
    const v = await open();
    await v.fs.mkdir('/docs', 0o750);
    const big = randomBytes(300_000);
    await writeFile(v, '/docs/big.bin', big);
    await v.fs.symlink('big.bin', '/docs/alias');
    await v.fs.setxattr('/docs', 'user.k', new TextEncoder().encode('v'), 0);
    await v.close();

    const again = await open({ readOnly: true });
    expect(Buffer.compare(await readFile(again, '/docs/big.bin'), big)).toBe(0);
    expect(await again.fs.readlink('/docs/alias')).toBe('big.bin');
    expect((await again.fs.getattr('/docs')).mode & 0o777).toBe(0o750);
    expect(text(await again.fs.getxattr('/docs', 'user.k'))).toBe('v');
    expect(await errno(again.fs.mkdir('/nope', 0o755))).toBe('EROFS');
    await again.close();
  });

  it('under memory pressure writers wait for a commit instead of growing without bound', async () => {
    const { open } = setup();
    const v = await open({ dirtyLimitBytes: 256 * 1024 });
    const fh = await v.fs.create('/stream', 0o644, O_WRONLY);
    const chunk = randomBytes(128 * 1024);
    const seqBefore = v.seq;
    for (let i = 0; i < 24; i++) await v.fs.write(fh, chunk, chunk.length, i * chunk.length);
    expect(v.seq).toBeGreaterThan(seqBefore + 3);
    expect(v.fs.data.dirtyBytes).toBeLessThanOrEqual(256 * 1024 + chunk.length * 2);
    await v.fs.release(fh);
    await v.close();
  });

  it('many commits fold into a checkpoint, and old stripes are deleted', async () => {
    const { open, backend } = setup();
    const v = await open();
    for (let i = 0; i < 40; i++) await writeFile(v, `/f${i % 5}`, `version ${i}`);
    const stat = await Promise.all(backend.stores.map((s) => s.stat()));
    await v.close();
    const again = await open({ readOnly: true });
    expect(text(await readFile(again, '/f4'))).toBe('version 39');
    await again.close();
    // 5 live files of one small stripe each plus metadata; without deletion there would be 40+ stripes of data.
    expect(Math.max(...stat.map((s) => s.shards))).toBeLessThan(40);
  });

  it('a second writer is refused; a takeover fences the first, whose later commits never appear', async () => {
    const { open } = setup();
    const first = await open();
    await writeFile(first, '/before', 'kept');
    await expect(open()).rejects.toThrowError(VolumeBusyError);
    const second = await open({ forceTakeover: true });
    expect(second.epoch).toBeGreaterThan(first.epoch);
    const fh = await first.fs.create('/late', 0o644, O_WRONLY);
    await first.fs.write(fh, new TextEncoder().encode('lost'), 4, 0);
    await expect(first.fs.flush(fh)).rejects.toThrowError(FencedError);
    await first.close().catch(() => undefined);
    await writeFile(second, '/after', 'new writer');
    await second.close();
    const check = await open({ readOnly: true });
    expect((await check.fs.readdir('/')).sort()).toEqual(['after', 'before']);
    await check.close();
  });

  it('shards rotted at rest are caught off the main thread: reads come from other stores, the damage is reported for repair', async () => {
    const { open, backend } = setup();
    const v = await open();
    const data = randomBytes(5 * 64 * 1024 + 1234);
    await writeFile(v, '/data.bin', data);
    await v.close();

    const stores = backend.stores as RottingStore[];
    stores[0].rotten = true;
    stores[1].rotten = true;
    const held = new Set<string>();
    for (const s of stores.slice(0, 2)) for (const id of (await s.list()).ids) held.add(id);
    const reader = await open({ readOnly: true });
    expect(Buffer.compare(await readFile(reader, '/data.bin'), data)).toBe(0);
    // Every stripe has its first data shards on some of these stores, so some were asked for and found bad.
    expect(backend.suspects.size).toBeGreaterThan(0);
    for (const id of backend.suspects) expect(held.has(id)).toBe(true);
    await reader.close();

    // A third rotten store leaves fewer than k good shards: an error, never wrong bytes.
    stores[2].rotten = true;
    const failure = await open({ readOnly: true }).then(
      async (again) => readFile(again, '/data.bin').finally(() => again.close()),
    ).then(() => undefined, (err: Error) => err);
    expect(failure?.message).toMatch(/unreadable|usable/);
  });

  it('on stores that keep files, the stripe workers write the shards as packs; a store with a capacity, or a pack they cannot write, takes put', async () => {
    const dirs = Array.from({ length: 6 }, (_, i) => join(root, `writers-${journals}-${i}`));
    const real = await Promise.all(
      dirs.map((dir, i) => FileStore.open(dir, { id: `file-${i}`, capacity: i === 4 ? 2 ** 30 : undefined })),
    );
    // Store 5 names a pack directory its workers cannot write in: their write fails and the shards go through its put.
    const unwritable = new Proxy(real[5], {
      get(target, name) {
        if (name === 'packTarget') return () => ({ dir: join(root, 'no-such-dir'), sync: true });
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const stores = [...real.slice(0, 5), unwritable];
    const puts = real.map((s) => vi.spyOn(s, 'put'));
    const backend = new Backend(stores);
    const config: VolumeConfig = { id: randomBytes(16), key: newKey(), k: 4, m: 2, blockSize: 64 * 1024 };
    const v = await Volume.open(config, backend, { engine, journalDir: join(root, `journal-${++journals}`) });
    const data = randomBytes(6 * 64 * 1024 + 99);
    await writeFile(v, '/data.bin', data);
    await v.commit();
    const dataStripes = v.stripes().filter((s) => s.owner !== null).length;
    expect(dataStripes).toBe(7);
    // Every stripe, data and metadata, has a shard on each store; put only where no worker wrote it.
    const stripes = (await real[0].stat()).shards;
    expect(stripes).toBeGreaterThan(dataStripes);
    for (const store of real) expect((await store.stat()).shards).toBe(stripes);
    for (const i of [0, 1, 2, 3]) expect(puts[i]).not.toHaveBeenCalled();
    expect(puts[4].mock.calls.length).toBe(stripes);
    expect(puts[5].mock.calls.length).toBe(stripes);
    // A few packs hold them, not a file per shard: one per worker for the data group and for the metadata at most.
    for (const dir of dirs.slice(0, 4)) {
      const packs = readdirSync(join(dir, 'packs')).filter((name) => name.endsWith('.pack'));
      expect(packs.length).toBeGreaterThanOrEqual(2);
      expect(packs.length).toBeLessThanOrEqual(2 * engine.threads);
      expect(readdirSync(join(dir, 'shards'), { recursive: true }).filter((name) => /[0-9a-f]{64}$/.test(String(name)))).toEqual([]);
    }
    await v.close();
    const reader = await Volume.open(config, backend, { readOnly: true, engine, journalDir: join(root, `journal-${++journals}`) });
    expect(Buffer.compare(await readFile(reader, '/data.bin'), data)).toBe(0);
    await reader.close();
    await Promise.all(real.map((s) => s.close()));
  });

  it('on stores that keep files, the stripe workers read the files: a rotted file is caught and reported, a missing one replaced', async () => {
    const stores = await Promise.all(
      Array.from({ length: 6 }, (_, i) => FileStore.open(join(root, `files-${journals}-${i}`), { id: `file-${i}` })),
    );
    const backend = new Backend(stores);
    const config: VolumeConfig = { id: randomBytes(16), key: newKey(), k: 4, m: 2, blockSize: 64 * 1024 };
    const open = (readOnly: boolean) => Volume.open(config, backend, { readOnly, engine, journalDir: join(root, `journal-${++journals}`) });
    const v = await open(false);
    const data = randomBytes(6 * 64 * 1024 + 99);
    await writeFile(v, '/data.bin', data);
    await v.close();

    // Every shard on store 0 rots (a flipped byte mid-shard); every file of store 1 is gone.
    const rotted = (await stores[0].list()).ids;
    for (const id of rotted) {
      const where = stores[0].shardFile(id);
      const { path, offset, length } = typeof where === 'string' ? { path: where, offset: 0, length: statSync(where).size } : where;
      const bytes = readFileSync(path);
      bytes[offset + (length >> 1)] ^= 0x01;
      writeFileSync(path, bytes);
    }
    const lose = async (store: FileStore) => {
      for (const id of (await store.list()).ids) {
        const where = store.shardFile(id);
        rmSync(typeof where === 'string' ? where : where.path, { force: true });
      }
    };
    await lose(stores[1]);
    const reader = await open(true);
    const gets = stores.map((s) => vi.spyOn(s, 'get'));
    expect(Buffer.compare(await readFile(reader, '/data.bin'), data)).toBe(0);
    // The workers read the files themselves: no store was asked.
    for (const get of gets) expect(get).not.toHaveBeenCalled();
    expect(backend.suspects.size).toBeGreaterThan(0);
    for (const id of backend.suspects) expect(rotted).toContain(id);
    await reader.close();

    // A third store's files gone: fewer than k anywhere, an error rather than wrong bytes.
    await lose(stores[2]);
    const failure = await open(true).then(
      async (again) => readFile(again, '/data.bin').finally(() => again.close()),
    ).then(() => undefined, (err: Error) => err);
    expect(failure?.message).toMatch(/unreadable|usable/);
    await Promise.all(stores.map((s) => s.close()));
  });
});
