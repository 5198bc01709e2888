/**
 * fuse-native's operations, answered by a VolumeFs. Every kernel request
 * becomes one call on the volume; an FsError becomes its errno, anything else
 * becomes EIO plus one log line (op, path, error; never file contents).
 */
import { constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type Fuse from 'fuse-native';
import { FsError, type Attr, type Errno, type StatFs, type VolumeFs } from '../src/volume/index.js';
import { IO_SIZE } from './io-size.js';
import { isHideRename, type ReadDrops } from './read-drops.js';

const { errno } = osConstants;

// Linux numbers from Node rather than fuse-native's table, which lacks ENOTSUP.
const ERRNO: Record<Errno, number> = {
  EPERM: errno.EPERM,
  ENOENT: errno.ENOENT,
  EIO: errno.EIO,
  EBADF: errno.EBADF,
  EACCES: errno.EACCES,
  EEXIST: errno.EEXIST,
  EXDEV: errno.EXDEV,
  ENOTDIR: errno.ENOTDIR,
  EISDIR: errno.EISDIR,
  EINVAL: errno.EINVAL,
  EFBIG: errno.EFBIG,
  ENOSPC: errno.ENOSPC,
  EROFS: errno.EROFS,
  EMLINK: errno.EMLINK,
  ERANGE: errno.ERANGE,
  ENAMETOOLONG: errno.ENAMETOOLONG,
  ENOTEMPTY: errno.ENOTEMPTY,
  ELOOP: errno.ELOOP,
  ENODATA: errno.ENODATA,
  ENOTSUP: errno.ENOTSUP,
};

/** The negative code fuse-native hands the kernel for an errno name. */
function fuseCode(name: Errno): number {
  return -ERRNO[name];
}

const EIO = fuseCode('EIO');
const EROFS = fuseCode('EROFS');

// fuse-native calls create(path, mode) without the open flags. The kernel
// still enforces the descriptor's access mode and computes O_APPEND offsets
// itself (it has the file size; there is no writeback cache), so the volume
// gets a handle that may do both.
const CREATE_FLAGS = fsConstants.O_CREAT | fsConstants.O_RDWR;

/** One structured line per unexpected failure; names are fine on this machine, data never. */
export interface FailureLog {
  time: string;
  level: 'error';
  component: 'fuse';
  op: string;
  path: string;
  error: string;
  code?: string;
  stack?: string;
}

export interface AdapterOptions {
  /** Refuse every change with EROFS, also when the volume itself is writable. */
  readOnly?: boolean;
  /** Where unexpected failures go; one JSON line on stderr by default. */
  log?: (entry: FailureLog) => void;
  /** Streamed reads drop their file's cached pages behind them (read-drops.ts). */
  drops?: ReadDrops;
}

const logToStderr = (entry: FailureLog): void => {
  process.stderr.write(`${JSON.stringify(entry)}\n`);
};

function describeFailure(op: string, path: string, err: unknown): FailureLog {
  const entry: FailureLog = {
    time: new Date().toISOString(),
    level: 'error',
    component: 'fuse',
    op,
    path,
    // A non-Error value is not printed: it could be anything, file data included.
    error: err instanceof Error ? `${err.name}: ${err.message}` : `non-Error value thrown (${typeof err})`,
  };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') entry.code = code;
    if (err.stack !== undefined) entry.stack = err.stack;
  }
  return entry;
}

function toStat(attr: Attr): Fuse.Stat {
  return {
    mode: attr.mode,
    uid: attr.uid,
    gid: attr.gid,
    size: attr.size,
    nlink: attr.nlink,
    ino: attr.ino,
    // 512-byte units, as du expects; sparse files are counted as if full.
    blocks: Math.ceil(attr.size / 512),
    blksize: IO_SIZE,
    atime: new Date(attr.atimeMs),
    mtime: new Date(attr.mtimeMs),
    ctime: new Date(attr.ctimeMs),
  };
}

const UINT32_MAX = 0xffff_ffff;

// The binding packs statvfs into 32-bit fields. Rather than let a large
// volume's block counts wrap, count in bigger fragments until they fit.
function toStatFs(s: StatFs): Fuse.StatFs {
  let { frsize, blocks, bfree, bavail } = s;
  while (blocks > UINT32_MAX) {
    frsize *= 2;
    blocks = Math.floor(blocks / 2);
    bfree = Math.floor(bfree / 2);
    bavail = Math.floor(bavail / 2);
  }
  const clamp = (n: number): number => Math.min(n, UINT32_MAX);
  return {
    ...s,
    frsize,
    blocks,
    bfree,
    bavail,
    files: clamp(s.files),
    ffree: clamp(s.ffree),
    favail: clamp(s.favail),
  };
}

const writesOrTruncates = (flags: number): boolean =>
  (flags & (fsConstants.O_WRONLY | fsConstants.O_RDWR | fsConstants.O_TRUNC)) !== 0;

/** The ops object for `new Fuse(dir, ops)`, answering from `fs`. */
export function fuseOps(fs: VolumeFs, options: AdapterOptions = {}): Fuse.Ops {
  const readOnly = options.readOnly === true || fs.readOnly;
  const log = options.log ?? logToStderr;
  const drops = options.drops;

  const codeOf = (op: string, path: string, err: unknown): number => {
    if (err instanceof FsError) return fuseCode(err.errno);
    log(describeFailure(op, path, err));
    return EIO;
  };

  // Starts one volume call and answers the kernel exactly once.
  function run<T>(op: string, path: string, work: () => Promise<T>, answer: (value: T) => void, cb: Fuse.Reply): void {
    let pending: Promise<T>;
    try {
      pending = work();
    } catch (err) {
      cb(codeOf(op, path, err));
      return;
    }
    pending.then(answer, (err: unknown) => cb(codeOf(op, path, err)));
  }

  const call = (op: string, path: string, work: () => Promise<void>, cb: Fuse.Reply): void =>
    run(op, path, work, () => cb(0), cb);

  const change = (op: string, path: string, work: () => Promise<void>, cb: Fuse.Reply): void => {
    if (readOnly) cb(EROFS);
    else call(op, path, work, cb);
  };

  // Which handles are a read drop's, and which inodes users hold open, for renameOrHide.
  async function opened(path: string, flags: number, opening: Promise<number>): Promise<number> {
    const fh = await opening;
    if (drops) drops.opened(path, flags, fh, (await fs.fgetattr(fh)).ino);
    return fh;
  }

  // libfuse hides a file unlinked while open; when only a read drop held it
  // open, the unlink it was asked for is what the user sees.
  async function renameOrHide(src: string, dest: string): Promise<void> {
    if (drops && isHideRename(src, dest) && drops.hideIsUnlink((await fs.getattr(src)).ino)) return fs.unlink(src);
    return fs.rename(src, dest);
  }

  return {
    // default_permissions is off and the volume keeps no per-caller rights:
    // everything the mounting user may reach is allowed, except writing a
    // read-only mount.
    access: (_path, mode, cb) => cb(readOnly && (mode & fsConstants.W_OK) !== 0 ? EROFS : 0),
    statfs: (path, cb) => run('statfs', path, () => fs.statfs(), (s) => cb(0, toStatFs(s)), cb),
    getattr: (path, cb) => run('getattr', path, () => fs.getattr(path), (a) => cb(0, toStat(a)), cb),
    fgetattr: (path, fd, cb) => run('fgetattr', path, () => fs.fgetattr(fd), (a) => cb(0, toStat(a)), cb),
    readdir: (path, cb) => run('readdir', path, () => fs.readdir(path), (names) => cb(0, ['.', '..', ...names]), cb),
    readlink: (path, cb) => run('readlink', path, () => fs.readlink(path), (target) => cb(0, target), cb),
    getxattr: (path, name, _position, cb) =>
      run(
        'getxattr',
        path,
        () => fs.getxattr(path, name),
        (v) => cb(0, Buffer.from(v.buffer, v.byteOffset, v.byteLength)),
        cb,
      ),
    listxattr: (path, cb) => run('listxattr', path, () => fs.listxattr(path), (names) => cb(0, names), cb),

    open: (path, flags, cb) => {
      if (readOnly && writesOrTruncates(flags)) cb(EROFS);
      else run('open', path, () => opened(path, flags, fs.open(path, flags)), (fh) => cb(0, fh), cb);
    },
    create: (path, mode, cb) => {
      if (readOnly) cb(EROFS);
      else run('create', path, () => opened(path, CREATE_FLAGS, fs.create(path, mode, CREATE_FLAGS)), (fh) => cb(0, fh), cb);
    },
    read: (path, fd, buf, len, pos, cb) =>
      run(
        'read',
        path,
        () => fs.read(fd, buf, len, pos),
        (n) => {
          drops?.read(path, fd, pos, n);
          cb(n);
        },
        cb,
      ),
    // `buf` is the kernel's buffer, lent until the volume's promise settles
    // (the binding then detaches it: a view kept longer reads as empty). Not
    // copied here: the volume copies into its blocks anyway, and a copy per
    // 128 KiB write costs ~30 µs of this one JS thread, a quarter of it at 1 GB/s.
    write: (path, fd, buf, len, pos, cb) => {
      if (readOnly) cb(EROFS);
      else run('write', path, () => fs.write(fd, buf, len, pos), cb, cb);
    },
    flush: (path, fd, cb) => call('flush', path, () => fs.flush(fd), cb),
    fsync: (path, datasync, fd, cb) => call('fsync', path, () => fs.fsync(fd, datasync !== 0), cb),
    fsyncdir: (path, _datasync, _fd, cb) => call('fsyncdir', path, () => fs.fsyncdir(path), cb),
    release: (path, fd, cb) => {
      drops?.released(fd);
      call('release', path, () => fs.release(fd), cb);
    },

    truncate: (path, size, cb) => change('truncate', path, () => fs.truncate(path, size), cb),
    ftruncate: (path, fd, size, cb) => change('ftruncate', path, () => fs.ftruncate(fd, size), cb),
    utimens: (path, atime, mtime, cb) => change('utimens', path, () => fs.utimens(path, atime, mtime), cb),
    chown: (path, uid, gid, cb) => change('chown', path, () => fs.chown(path, uid, gid), cb),
    chmod: (path, mode, cb) => change('chmod', path, () => fs.chmod(path, mode), cb),
    // Copied: a volume may well keep the value as given, and it is small.
    setxattr: (path, name, value, _position, flags, cb) =>
      change('setxattr', path, () => fs.setxattr(path, name, new Uint8Array(value), flags), cb),
    removexattr: (path, name, cb) => change('removexattr', path, () => fs.removexattr(path, name), cb),
    mkdir: (path, mode, cb) => change('mkdir', path, () => fs.mkdir(path, mode), cb),
    rmdir: (path, cb) => change('rmdir', path, () => fs.rmdir(path), cb),
    unlink: (path, cb) => change('unlink', path, () => fs.unlink(path), cb),
    rename: (src, dest, cb) => change('rename', src, () => renameOrHide(src, dest), cb),
    link: (existing, path, cb) => change('link', path, () => fs.link(existing, path), cb),
    symlink: (target, path, cb) => change('symlink', path, () => fs.symlink(target, path), cb),
  };
}
