// The adapter alone, without a mount: fuse-native's callbacks driven directly.
import { constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type Fuse from 'fuse-native';
import { fuseOps, type FailureLog } from '../../fuse/adapter.js';
import { FsError, type Attr, type Errno, type VolumeFs } from '../../src/volume/index.js';

const ALL_ERRNOS: Errno[] = [
  'EPERM', 'ENOENT', 'EIO', 'EBADF', 'EACCES', 'EEXIST', 'EXDEV', 'ENOTDIR', 'EISDIR', 'EINVAL',
  'EFBIG', 'ENOSPC', 'EROFS', 'EMLINK', 'ERANGE', 'ENAMETOOLONG', 'ENOTEMPTY', 'ELOOP', 'ENODATA', 'ENOTSUP',
];
const code = (name: Errno): number => -osConstants.errno[name];

/** A VolumeFs whose methods are the given stubs; any other call fails the test. */
function volume(methods: Partial<VolumeFs>, readOnly = false): VolumeFs {
  return new Proxy({ readOnly, ...methods } as VolumeFs, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof VolumeFs];
      throw new Error(`unexpected call to VolumeFs.${String(prop)}`);
    },
  });
}

/** Calls one op and resolves with the arguments its callback got. */
function answer(call: (cb: (...args: unknown[]) => void) => void): Promise<unknown[]> {
  return new Promise((resolve) => call((...args) => resolve(args)));
}

const ATTR: Attr = {
  ino: 42,
  mode: fsConstants.S_IFREG | 0o640,
  nlink: 1,
  uid: 1000,
  gid: 100,
  size: 1025,
  atimeMs: 1_000,
  mtimeMs: 2_000,
  ctimeMs: 3_000,
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('fuseOps', () => {
  it.each(ALL_ERRNOS)('maps FsError %s to its negative Linux code', async (errno) => {
    const ops = fuseOps(volume({ getattr: () => Promise.reject(new FsError(errno, '/x')) }));
    expect(await answer((cb) => ops.getattr('/x', cb))).toEqual([code(errno)]);
  });

  it('answers EIO to anything else, with one log line that has the op and path but no file data', async () => {
    const logged: FailureLog[] = [];
    const secret = Buffer.from('TOP-SECRET-CONTENT');
    const ops = fuseOps(
      volume({
        write: async (_fh, data) => {
          throw new TypeError(`backend rejected a block of ${data.length} bytes`);
        },
        read: () => {
          throw new Error('thrown before any promise');
        },
        readlink: () => Promise.reject(secret.toString()),
      }),
      { log: (entry) => logged.push(entry) },
    );
    expect(await answer((cb) => ops.write('/dir/file', 3, secret, secret.length, 0, cb))).toEqual([code('EIO')]);
    expect(await answer((cb) => ops.read('/dir/file', 3, Buffer.alloc(8), 8, 0, cb))).toEqual([code('EIO')]);
    expect(await answer((cb) => ops.readlink('/dir/link', cb))).toEqual([code('EIO')]);

    expect(logged).toHaveLength(3);
    expect(logged[0]).toMatchObject({
      level: 'error',
      component: 'fuse',
      op: 'write',
      path: '/dir/file',
      error: 'TypeError: backend rejected a block of 18 bytes',
    });
    expect(logged[1]).toMatchObject({ op: 'read', error: 'Error: thrown before any promise' });
    expect(logged[2]).toMatchObject({ op: 'readlink', error: 'non-Error value thrown (string)' });
    expect(JSON.stringify(logged)).not.toContain('TOP-SECRET');
  });

  it('logs to stderr as one JSON line by default, and not for FsErrors', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const ops = fuseOps(
      volume({
        getattr: (path) => Promise.reject(path === '/gone' ? new FsError('ENOENT', path) : new RangeError('bad')),
      }),
    );
    await answer((cb) => ops.getattr('/gone', cb));
    expect(write).not.toHaveBeenCalled();
    await answer((cb) => ops.getattr('/bad', cb));
    expect(write).toHaveBeenCalledTimes(1);
    const line = String(write.mock.calls[0][0]);
    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toMatchObject({ op: 'getattr', path: '/bad', error: 'RangeError: bad' });
  });

  describe('read-only', () => {
    const O_RDONLY = fsConstants.O_RDONLY;
    const buf = Buffer.from('data');
    const changes: Array<[string, (ops: Fuse.Ops, cb: (code: number) => void) => void]> = [
      ['mkdir', (ops, cb) => ops.mkdir('/d', 0o755, cb)],
      ['rmdir', (ops, cb) => ops.rmdir('/d', cb)],
      ['create', (ops, cb) => ops.create('/f', 0o644, cb)],
      ['open O_WRONLY', (ops, cb) => ops.open('/f', fsConstants.O_WRONLY, cb)],
      ['open O_RDWR', (ops, cb) => ops.open('/f', fsConstants.O_RDWR, cb)],
      ['open O_TRUNC', (ops, cb) => ops.open('/f', O_RDONLY | fsConstants.O_TRUNC, cb)],
      ['write', (ops, cb) => ops.write('/f', 1, buf, 4, 0, cb)],
      ['truncate', (ops, cb) => ops.truncate('/f', 0, cb)],
      ['ftruncate', (ops, cb) => ops.ftruncate('/f', 1, 0, cb)],
      ['unlink', (ops, cb) => ops.unlink('/f', cb)],
      ['rename', (ops, cb) => ops.rename('/f', '/g', cb)],
      ['link', (ops, cb) => ops.link('/f', '/g', cb)],
      ['symlink', (ops, cb) => ops.symlink('f', '/g', cb)],
      ['chmod', (ops, cb) => ops.chmod('/f', 0o600, cb)],
      ['chown', (ops, cb) => ops.chown('/f', 1, 1, cb)],
      ['utimens', (ops, cb) => ops.utimens('/f', 1, 2, cb)],
      ['setxattr', (ops, cb) => ops.setxattr('/f', 'user.a', buf, 0, 0, cb)],
      ['removexattr', (ops, cb) => ops.removexattr('/f', 'user.a', cb)],
      ['access W_OK', (ops, cb) => ops.access('/f', fsConstants.W_OK, cb)],
    ];

    it.each(changes)('%s answers EROFS without calling the volume', async (_name, call) => {
      // The stub volume has no methods: any call would throw inside the adapter.
      const ops = fuseOps(volume({}), { readOnly: true });
      expect(await answer((cb) => call(ops, cb))).toEqual([code('EROFS')]);
    });

    it('follows the volume being read-only, and still opens for reading', async () => {
      const ops = fuseOps(volume({ open: async () => 7 }, true));
      expect(await answer((cb) => ops.mkdir('/d', 0o755, cb))).toEqual([code('EROFS')]);
      expect(await answer((cb) => ops.open('/f', O_RDONLY, cb))).toEqual([0, 7]);
      expect(await answer((cb) => ops.access('/f', fsConstants.R_OK, cb))).toEqual([0]);
    });
  });

  it('getattr: a stat with Date times, 512-byte blocks and a 128 KiB blksize', async () => {
    const ops = fuseOps(volume({ getattr: async () => ATTR, fgetattr: async (fh) => ({ ...ATTR, ino: fh }) }));
    expect(await answer((cb) => ops.getattr('/f', cb))).toEqual([
      0,
      {
        mode: ATTR.mode,
        uid: 1000,
        gid: 100,
        size: 1025,
        nlink: 1,
        ino: 42,
        blocks: 3,
        blksize: 131072,
        atime: new Date(1_000),
        mtime: new Date(2_000),
        ctime: new Date(3_000),
      },
    ]);
    const [, byHandle] = await answer((cb) => ops.fgetattr('/f', 9, cb));
    expect(byHandle).toMatchObject({ ino: 9 });
  });

  it('read and write answer byte counts; write lends the kernel buffer as is', async () => {
    let lent: Uint8Array | undefined;
    const ops = fuseOps(
      volume({
        read: async (_fh, into, length) => {
          into.fill(1, 0, length - 1);
          return length - 1;
        },
        write: async (_fh, data, length, position) => {
          lent = data;
          expect(position).toBe(4096);
          return length;
        },
      }),
    );
    const into = Buffer.alloc(10);
    expect(await answer((cb) => ops.read('/f', 1, into, 10, 0, cb))).toEqual([9]);
    expect(into.subarray(0, 9).every((b) => b === 1)).toBe(true);

    const kernelBuffer = Buffer.from('abcdefgh');
    expect(await answer((cb) => ops.write('/f', 1, kernelBuffer, 5, 4096, cb))).toEqual([5]);
    expect(lent).toBe(kernelBuffer);
  });

  it('create passes O_CREAT|O_RDWR, since fuse-native drops the real flags', async () => {
    const create = vi.fn(async () => 3);
    const ops = fuseOps(volume({ create }));
    expect(await answer((cb) => ops.create('/f', fsConstants.S_IFREG | 0o644, cb))).toEqual([0, 3]);
    expect(create).toHaveBeenCalledWith('/f', fsConstants.S_IFREG | 0o644, fsConstants.O_CREAT | fsConstants.O_RDWR);
  });

  it('readdir adds . and ..; readlink, xattrs and fsync pass through; setxattr values are copied', async () => {
    const fsync = vi.fn(async () => undefined);
    let stored: Uint8Array | undefined;
    const ops = fuseOps(
      volume({
        readdir: async () => ['a', 'b'],
        readlink: async () => '../target',
        getxattr: async () => new Uint8Array([1, 2, 3]).subarray(1),
        listxattr: async () => ['user.a', 'user.b'],
        setxattr: async (_path, _name, value) => {
          stored = value;
        },
        fsync,
      }),
    );
    expect(await answer((cb) => ops.readdir('/', cb))).toEqual([0, ['.', '..', 'a', 'b']]);
    expect(await answer((cb) => ops.readlink('/l', cb))).toEqual([0, '../target']);
    const [status, value] = await answer((cb) => ops.getxattr('/f', 'user.a', 0, cb));
    expect(status).toBe(0);
    expect(Buffer.isBuffer(value) && [...value]).toEqual([2, 3]);
    expect(await answer((cb) => ops.listxattr('/f', cb))).toEqual([0, ['user.a', 'user.b']]);
    expect(await answer((cb) => ops.fsync('/f', 1, 5, cb))).toEqual([0]);
    expect(fsync).toHaveBeenCalledWith(5, true);
    const kernelValue = Buffer.from('value');
    expect(await answer((cb) => ops.setxattr('/f', 'user.a', kernelValue, 0, 0, cb))).toEqual([0]);
    kernelValue.fill(0);
    expect(Buffer.from(stored!).toString()).toBe('value');
  });

  it('statfs counts in larger fragments rather than overflow 32-bit fields', async () => {
    const petabyte = 2 ** 50;
    const ops = fuseOps(
      volume({
        statfs: async () => ({
          bsize: 4096, frsize: 4096, blocks: petabyte / 4096, bfree: petabyte / 8192, bavail: petabyte / 8192,
          files: 2 ** 40, ffree: 2 ** 40, favail: 2 ** 40, namemax: 255,
        }),
      }),
    );
    const [status, s] = (await answer((cb) => ops.statfs('/', cb))) as [number, Fuse.StatFs];
    expect(status).toBe(0);
    expect(s.blocks).toBeLessThanOrEqual(0xffff_ffff);
    expect(s.blocks * s.frsize).toBe(petabyte);
    expect(s.bfree * s.frsize).toBe(petabyte / 2);
    expect(s.files).toBe(0xffff_ffff);
  });
});
