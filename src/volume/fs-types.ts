/**
 * The filesystem a volume presents, path-based like FUSE's high-level API
 * (fuse-native). The FUSE adapter in fuse/ maps each kernel request to one of
 * these calls; a failure is an FsError carrying the errno to return.
 */
import { CairnError } from '../errors/index.js';

export type Errno =
  | 'EPERM'
  | 'ENOENT'
  | 'EIO'
  | 'EBADF'
  | 'EACCES'
  | 'EEXIST'
  | 'EXDEV'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'EINVAL'
  | 'EFBIG'
  | 'ENOSPC'
  | 'EROFS'
  | 'EMLINK'
  | 'ERANGE'
  | 'ENAMETOOLONG'
  | 'ENOTEMPTY'
  | 'ELOOP'
  | 'ENODATA'
  | 'ENOTSUP';

/** A POSIX error for the kernel: `errno` is what the failing system call returns. */
export class FsError extends CairnError {
  readonly errno: Errno;

  constructor(errno: Errno, message: string) {
    super(`fs.${errno.toLowerCase()}`, `${errno}: ${message}`);
    this.errno = errno;
  }
}

export interface Attr {
  ino: number;
  /** File type bits and permission bits, as in st_mode (S_IFREG | 0o644 …). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

/** Open flags as the kernel passes them (O_RDONLY … O_APPEND, O_TRUNC, O_EXCL). */
export type OpenFlags = number;

export interface VolumeFs {
  readonly readOnly: boolean;
  statfs(): Promise<StatFs>;
  getattr(path: string): Promise<Attr>;
  fgetattr(fh: number): Promise<Attr>;
  /** Entry names, without "." and "..". */
  readdir(path: string): Promise<string[]>;
  mkdir(path: string, mode: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** Creates and opens a regular file; returns a file handle. */
  create(path: string, mode: number, flags: OpenFlags): Promise<number>;
  open(path: string, flags: OpenFlags): Promise<number>;
  /** The last close of a handle. Handles keep unlinked files alive until released. */
  release(fh: number): Promise<void>;
  read(fh: number, into: Uint8Array, length: number, position: number): Promise<number>;
  /** Writes at `position`, or at the end for a handle opened with O_APPEND. Returns bytes written. */
  write(fh: number, data: Uint8Array, length: number, position: number): Promise<number>;
  /** close(2) of one descriptor: after writes, the data and metadata are committed to the backend. */
  flush(fh: number): Promise<void>;
  /** fsync(2): returns once data and metadata are committed to the backend. */
  fsync(fh: number, datasync: boolean): Promise<void>;
  /** fsync(2) of a directory: makes its entries (a rename, a new file) durable the same way. */
  fsyncdir(path: string): Promise<void>;
  truncate(path: string, size: number): Promise<void>;
  ftruncate(fh: number, size: number): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Atomic; replaces an existing target as rename(2) does. */
  rename(from: string, to: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  chmod(path: string, mode: number): Promise<void>;
  chown(path: string, uid: number, gid: number): Promise<void>;
  utimens(path: string, atimeMs: number, mtimeMs: number): Promise<void>;
  setxattr(path: string, name: string, value: Uint8Array, flags: number): Promise<void>;
  /** ENODATA when absent. */
  getxattr(path: string, name: string): Promise<Uint8Array>;
  listxattr(path: string): Promise<string[]>;
  removexattr(path: string, name: string): Promise<void>;
}
