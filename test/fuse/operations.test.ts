// Each operation through a real FUSE mount: a child process serves a MemoryFs
// (test/fuse/memory-fs.ts) and this process uses the mount with async calls.
import {
  appendFile,
  chmod,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rmdir,
  stat,
  statfs,
  symlink,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { readFile as readProcFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertFuseReady, cleanUpAfterEach, run, serveDouble, tempDir, within, type DoubleServer } from './harness.js';

const io = <T>(promise: Promise<T>): Promise<T> => within(promise, 'a call on the mount');

// Node has no xattr calls; Debian's attr tools (setfattr/getfattr) are not
// installed here, so Python's os.*xattr make them, all steps in one process.
// Each step answers its value ('' for set/remove) or the errno name.
const XATTR_PY = `
import errno, json, os, sys
path, results = sys.argv[1], []
for op, *args in json.loads(sys.argv[2]):
    try:
        if op == 'set': os.setxattr(path, args[0], args[1].encode()); results.append('')
        elif op == 'get': results.append(os.getxattr(path, args[0]).decode())
        elif op == 'list': results.append(' '.join(sorted(os.listxattr(path))))
        elif op == 'remove': os.removexattr(path, args[0]); results.append('')
    except OSError as e:
        results.append(errno.errorcode[e.errno])
print(json.dumps(results))
`;
async function xattrs(path: string, steps: string[][]): Promise<string[]> {
  const r = await run('python3', ['-c', XATTR_PY, path, JSON.stringify(steps)]);
  if (r.code !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

async function mountInfo(dir: string): Promise<string> {
  const table = await readProcFile('/proc/self/mountinfo', 'utf8');
  return table.split('\n').find((line) => line.split(' ')[4] === dir) ?? '';
}

beforeAll(assertFuseReady);
cleanUpAfterEach();

describe('a mounted volume', () => {
  let dir: string;
  let server: DoubleServer;
  const at = (name: string): string => join(dir, name);

  beforeEach(async () => {
    dir = await tempDir('ops');
    const [started, first] = await serveDouble(dir);
    expect(first).toMatchObject({ event: 'mounted', dir });
    server = started;
  });

  it('is listed as fuse.cairn with 128 KiB reads', async () => {
    const line = await mountInfo(dir);
    expect(line).toContain(' - fuse.cairn cairn rw,');
    expect(line).toContain('max_read=131072');
  });

  it('mkdir, readdir and getattr', async () => {
    await io(mkdir(at('a')));
    await io(mkdir(at('a/b'), { mode: 0o700 }));
    await io(writeFile(at('a/f'), 'x'));
    expect((await io(readdir(at('a')))).sort()).toEqual(['b', 'f']);
    const b = await io(stat(at('a/b')));
    expect(b.isDirectory()).toBe(true);
    expect(b.mode & 0o777).toBe(0o700);
    expect((await run('ls', ['-a', at('a')])).stdout.split('\n').filter(Boolean)).toEqual(['.', '..', 'b', 'f']);
  });

  it('create, write, read back; stat has the size, blksize and blocks', async () => {
    await io(writeFile(at('f.txt'), 'hello, volume\n'));
    expect(await io(readFile(at('f.txt'), 'utf8'))).toBe('hello, volume\n');
    const s = await io(stat(at('f.txt')));
    expect(s.isFile()).toBe(true);
    expect(s.size).toBe(14);
    expect(s.blksize).toBe(131072);
    expect(s.blocks).toBe(1);
    expect(s.mtime).toBeInstanceOf(Date);
    expect(Math.abs(s.mtimeMs - Date.now())).toBeLessThan(60_000);
  });

  it('a 1 MiB write(2) reaches the volume as 128 KiB writes (big_writes, max_write)', async () => {
    const data = Buffer.alloc(1 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    // Read-write: through the page cache, which cuts writes at page
    // boundaries (a write-only open goes direct: test/fuse/request-record.test.ts).
    const fh = await io(open(at('big'), 'w+'));
    try {
      expect((await io(fh.write(data))).bytesWritten).toBe(data.length);
    } finally {
      await io(fh.close());
    }
    expect((await io(readFile(at('big')))).equals(data)).toBe(true);
    const { writeSizes, readSizes } = await server.stats();
    // libfuse 2 would send 256 writes of 4096 bytes without big_writes.
    expect(Math.max(...writeSizes!)).toBe(131072);
    expect(writeSizes).toEqual(new Array(8).fill(131072));
    expect(Math.max(...readSizes!)).toBe(131072);
  });

  it('rename moves and replaces; unlink removes', async () => {
    await io(writeFile(at('one'), '1'));
    await io(writeFile(at('two'), '2'));
    await io(mkdir(at('d')));
    await io(rename(at('one'), at('d/uno')));
    await io(rename(at('two'), at('d/uno')));
    expect(await io(readFile(at('d/uno'), 'utf8'))).toBe('2');
    expect((await io(readdir(dir))).sort()).toEqual(['d']);
    await io(unlink(at('d/uno')));
    expect(await io(readdir(at('d')))).toEqual([]);
  });

  it('symlink and readlink', async () => {
    await io(writeFile(at('target'), 'through the link'));
    await io(symlink('target', at('link')));
    expect(await io(readlink(at('link')))).toBe('target');
    expect((await io(lstat(at('link')))).isSymbolicLink()).toBe(true);
    expect(await io(readFile(at('link'), 'utf8'))).toBe('through the link');
  });

  it('hard links share the volume inode number (use_ino)', async () => {
    await io(writeFile(at('orig'), 'same'));
    await io(link(at('orig'), at('alias')));
    const [a, b] = [await io(stat(at('orig'))), await io(stat(at('alias')))];
    expect(a.ino).toBe(b.ino);
    expect(a.nlink).toBe(2);
  });

  it('chmod, truncate, and ftruncate answered through fgetattr', async () => {
    await io(writeFile(at('f'), 'abcdef'));
    await io(chmod(at('f'), 0o600));
    expect((await io(stat(at('f')))).mode & 0o777).toBe(0o600);
    await io(truncate(at('f'), 3));
    expect(await io(readFile(at('f'), 'utf8'))).toBe('abc');
    const fh = await io(open(at('f'), 'r+'));
    try {
      await io(fh.truncate(1));
      expect((await io(fh.stat())).size).toBe(1);
    } finally {
      await io(fh.close());
    }
    const { calls } = await server.stats();
    expect(calls!.ftruncate).toBeGreaterThan(0);
    expect(calls!.fgetattr).toBeGreaterThan(0);
  });

  it('fsync, close and the last close reach the volume', async () => {
    const fh = await io(open(at('f'), 'w'));
    await io(fh.write('data'));
    await io(fh.sync());
    await io(fh.close());
    // The kernel sends release after close(2) has returned.
    await expect.poll(async () => (await server.stats()).calls, { timeout: 5_000 }).toMatchObject({
      fsync: 1,
      flush: 1,
      release: 1,
    });
  });

  it('O_APPEND appends, also on a file the same open created', async () => {
    await io(appendFile(at('log'), 'one\n'));
    await io(appendFile(at('log'), 'two\n'));
    expect(await io(readFile(at('log'), 'utf8'))).toBe('one\ntwo\n');
  });

  it('an open file outlives its unlink', async () => {
    await io(writeFile(at('f'), 'still here'));
    const fh = await io(open(at('f'), 'r'));
    try {
      await io(unlink(at('f')));
      await expect(io(stat(at('f')))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await io(fh.readFile('utf8'))).toBe('still here');
    } finally {
      await io(fh.close());
    }
    // libfuse 2 keeps the unlinked file as .fuse_hidden* until the kernel's
    // release, which follows close(2) asynchronously.
    await expect.poll(() => io(readdir(dir)), { timeout: 5_000 }).toEqual([]);
  });

  it('utimens sets the times (to the millisecond, the binding drops the rest)', async () => {
    await io(writeFile(at('f'), ''));
    // A fraction exact in binary: Node passes seconds as a double.
    const when = new Date('2021-03-04T05:06:07.250Z');
    await io(utimes(at('f'), when, when));
    const s = await io(stat(at('f')));
    expect(s.mtimeMs).toBe(when.getTime());
    expect(s.atimeMs).toBe(when.getTime());
  });

  // fuse-native 2.2.6 hands utimens the atime twice; CairnFuse takes the
  // mtime from its request record (fuse/request-record.ts, docs/FUSE.md).
  it('utimens passes an mtime distinct from the atime', async () => {
    await io(writeFile(at('f'), ''));
    await io(utimes(at('f'), new Date('2020-01-01T00:00:00Z'), new Date('2022-02-02T00:00:00Z')));
    const s = await io(stat(at('f')));
    expect(s.mtime.toISOString()).toBe('2022-02-02T00:00:00.000Z');
    expect(s.atime.toISOString()).toBe('2020-01-01T00:00:00.000Z');
  });

  it('xattrs: set, get, list, remove; ENODATA when absent; answers past the first buffer size', async () => {
    await io(writeFile(at('f'), ''));
    const long = 'v'.repeat(1000);
    const many = Array.from({ length: 40 }, (_, i) => `user.attribute-number-${String(i).padStart(2, '0')}`);
    // Python asks with a small buffer first (128 bytes for values, 256 for
    // lists): the long value and the long list take the ERANGE path.
    const results = await xattrs(at('f'), [
      ['set', 'user.short', 'hi'],
      ['set', 'user.long', long],
      ['get', 'user.short'],
      ['get', 'user.long'],
      ['get', 'user.none'],
      ...many.map((name) => ['set', name, '1']),
      ['list'],
      ['remove', 'user.short'],
      ['get', 'user.short'],
      ['remove', 'user.short'],
    ]);
    expect(results.slice(0, 5)).toEqual(['', '', 'hi', long, 'ENODATA']);
    expect(results.slice(5, 45).every((r) => r === '')).toBe(true);
    expect(results[45].split(' ')).toEqual([...many, 'user.long', 'user.short']);
    expect(results.slice(46)).toEqual(['', 'ENODATA', 'ENODATA']);
  });

  it('errors: ENOENT, EEXIST, ENOTEMPTY, ENOTDIR', async () => {
    await expect(io(stat(at('missing')))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(io(readFile(at('missing')))).rejects.toMatchObject({ code: 'ENOENT' });
    await io(mkdir(at('d')));
    await expect(io(mkdir(at('d')))).rejects.toMatchObject({ code: 'EEXIST' });
    await io(writeFile(at('d/f'), ''));
    await expect(io(rmdir(at('d')))).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    await expect(io(readdir(at('d/f')))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('an unexpected volume failure is EIO and one log line on the server, without file data', async () => {
    await expect(io(stat(at('eio-here')))).rejects.toMatchObject({ code: 'EIO' });
    const line = server.stderr.split('\n').find((l) => l.includes('simulated backend failure'));
    expect(JSON.parse(line!)).toMatchObject({
      level: 'error',
      component: 'fuse',
      op: 'getattr',
      path: '/eio-here',
      error: 'Error: simulated backend failure at /eio-here',
    });
  });

  it('statfs reports the volume numbers', async () => {
    const s = await io(statfs(dir));
    expect(s).toMatchObject({ bsize: 4096, blocks: 1000, bfree: 600, bavail: 500, files: 100, ffree: 90 });
  });
});

describe('a read-only mount', () => {
  it('refuses every change with EROFS and still reads', async () => {
    const dir = await tempDir('ro');
    const [, first] = await serveDouble(dir, ['--read-only', '--seed']);
    expect(first.event).toBe('mounted');
    expect(await mountInfo(dir)).toMatch(/ - fuse\.cairn cairn ro,/);
    expect(await io(readFile(join(dir, 'seed.txt'), 'utf8'))).toBe('seed data\n');
    await expect(io(writeFile(join(dir, 'new'), 'x'))).rejects.toMatchObject({ code: 'EROFS' });
    await expect(io(writeFile(join(dir, 'seed.txt'), 'x'))).rejects.toMatchObject({ code: 'EROFS' });
    await expect(io(mkdir(join(dir, 'd')))).rejects.toMatchObject({ code: 'EROFS' });
    await expect(io(unlink(join(dir, 'seed.txt')))).rejects.toMatchObject({ code: 'EROFS' });
    await expect(io(chmod(join(dir, 'seed.txt'), 0o600))).rejects.toMatchObject({ code: 'EROFS' });
    expect(await xattrs(join(dir, 'seed.txt'), [['set', 'user.a', 'b']])).toEqual(['EROFS']);
  });
});
