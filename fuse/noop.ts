/**
 * A filesystem that stores nothing: one directory of files whose writes are
 * counted and dropped and whose reads return zeros up to the highest byte
 * written. Mounted, it measures the ceiling of the FUSE path itself (kernel,
 * libfuse, fuse-native, the adapter) for the FUSE benchmark.
 */
import { constants } from 'node:fs';
import { FsError, type Attr, type StatFs, type VolumeFs } from '../src/volume/index.js';

export interface NoopStats {
  writes: number;
  bytesWritten: number;
  largestWrite: number;
  reads: number;
  bytesRead: number;
  largestRead: number;
}

interface NoopFile {
  ino: number;
  mode: number;
  size: number;
  mtimeMs: number;
}

const ROOT_INO = 1;

export class NoopFs implements VolumeFs {
  readonly readOnly = false;
  private readonly files = new Map<string, NoopFile>();
  private readonly handles = new Map<number, NoopFile>();
  private nextIno = ROOT_INO + 1;
  private nextHandle = 1;
  private readonly createdMs = Date.now();
  private readonly counters: NoopStats = {
    writes: 0,
    bytesWritten: 0,
    largestWrite: 0,
    reads: 0,
    bytesRead: 0,
    largestRead: 0,
  };

  stats(): NoopStats {
    return { ...this.counters };
  }

  async statfs(): Promise<StatFs> {
    const blocks = 1 << 30; // 4 TiB of 4 KiB blocks, all free: nothing is kept
    const files = 1 << 20;
    return {
      bsize: 4096,
      frsize: 4096,
      blocks,
      bfree: blocks,
      bavail: blocks,
      files,
      ffree: files,
      favail: files,
      namemax: 255,
    };
  }

  async getattr(path: string): Promise<Attr> {
    if (path === '/') return attr(ROOT_INO, constants.S_IFDIR | 0o755, 0, this.createdMs);
    const file = this.file(path);
    return attr(file.ino, file.mode, file.size, file.mtimeMs);
  }

  async fgetattr(fh: number): Promise<Attr> {
    const file = this.handle(fh);
    return attr(file.ino, file.mode, file.size, file.mtimeMs);
  }

  async readdir(path: string): Promise<string[]> {
    if (path !== '/') throw new FsError(this.files.has(path) ? 'ENOTDIR' : 'ENOENT', path);
    return [...this.files.keys()].map((p) => p.slice(1));
  }

  async create(path: string, mode: number): Promise<number> {
    if (path.lastIndexOf('/') !== 0) throw new FsError('ENOENT', `${path}: the no-op filesystem has one directory`);
    if (this.files.has(path)) throw new FsError('EEXIST', path);
    const file = { ino: this.nextIno++, mode: constants.S_IFREG | (mode & 0o7777), size: 0, mtimeMs: Date.now() };
    this.files.set(path, file);
    return this.open(path);
  }

  async open(path: string): Promise<number> {
    const fh = this.nextHandle++;
    this.handles.set(fh, this.file(path));
    return fh;
  }

  async release(fh: number): Promise<void> {
    this.handles.delete(fh);
  }

  async read(fh: number, into: Uint8Array, length: number, position: number): Promise<number> {
    const n = Math.max(0, Math.min(length, this.handle(fh).size - position));
    into.fill(0, 0, n);
    this.counters.reads++;
    this.counters.bytesRead += n;
    this.counters.largestRead = Math.max(this.counters.largestRead, n);
    return n;
  }

  async write(fh: number, _data: Uint8Array, length: number, position: number): Promise<number> {
    const file = this.handle(fh);
    file.size = Math.max(file.size, position + length);
    this.counters.writes++;
    this.counters.bytesWritten += length;
    this.counters.largestWrite = Math.max(this.counters.largestWrite, length);
    return length;
  }

  async flush(): Promise<void> {}

  async fsync(): Promise<void> {}

  async fsyncdir(): Promise<void> {}

  async truncate(path: string, size: number): Promise<void> {
    this.file(path).size = size;
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    this.handle(fh).size = size;
  }

  async unlink(path: string): Promise<void> {
    this.file(path);
    this.files.delete(path);
  }

  async rename(from: string, to: string): Promise<void> {
    const file = this.file(from);
    this.files.delete(from);
    this.files.set(to, file);
  }

  // Metadata is accepted and forgotten, so tools that set it (cp -p, tar, fio) run.
  async chmod(path: string): Promise<void> {
    this.file(path);
  }

  async chown(path: string): Promise<void> {
    this.file(path);
  }

  async utimens(path: string): Promise<void> {
    this.file(path);
  }

  async mkdir(path: string): Promise<void> {
    throw unsupported('directories', path);
  }

  async rmdir(path: string): Promise<void> {
    throw new FsError(this.files.has(path) ? 'ENOTDIR' : 'ENOENT', path);
  }

  async link(_existing: string, path: string): Promise<void> {
    throw new FsError('EPERM', `${path}: the no-op filesystem has no hard links`);
  }

  async symlink(_target: string, path: string): Promise<void> {
    throw new FsError('EPERM', `${path}: the no-op filesystem has no symlinks`);
  }

  async readlink(path: string): Promise<string> {
    this.file(path);
    throw new FsError('EINVAL', `${path} is not a symlink`);
  }

  async setxattr(path: string): Promise<void> {
    throw unsupported('extended attributes', path);
  }

  async getxattr(path: string): Promise<Uint8Array> {
    throw unsupported('extended attributes', path);
  }

  async listxattr(): Promise<string[]> {
    return [];
  }

  async removexattr(path: string): Promise<void> {
    throw unsupported('extended attributes', path);
  }

  private file(path: string): NoopFile {
    const file = this.files.get(path);
    if (file === undefined) throw new FsError('ENOENT', path);
    return file;
  }

  private handle(fh: number): NoopFile {
    const file = this.handles.get(fh);
    if (file === undefined) throw new FsError('EBADF', `file handle ${fh}`);
    return file;
  }
}

const unsupported = (what: string, path: string): FsError =>
  new FsError('ENOTSUP', `${path}: the no-op filesystem has no ${what}`);

// Owned by whoever serves the mount, who is the only one allowed in it.
const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;

function attr(ino: number, mode: number, size: number, mtimeMs: number): Attr {
  const nlink = (mode & constants.S_IFMT) === constants.S_IFDIR ? 2 : 1;
  return { ino, mode, nlink, uid, gid, size, atimeMs: mtimeMs, mtimeMs, ctimeMs: mtimeMs };
}
