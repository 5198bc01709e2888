/**
 * A small in-memory VolumeFs for the FUSE tests: directories, files, symlinks,
 * hard links and xattrs with POSIX errnos, plus a record of the read and write
 * sizes the kernel asked for. Any path whose last part starts with "eio-"
 * throws a plain Error, to check that unexpected failures become EIO.
 */
import { constants } from 'node:fs';
import { FsError, type Attr, type StatFs, type VolumeFs } from '../../src/volume/index.js';

const { S_IFMT, S_IFDIR, S_IFREG, S_IFLNK } = constants;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;

interface Node {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  data: Buffer;
  entries: Map<string, Node>;
  target: string;
  xattrs: Map<string, Uint8Array>;
}

const isDir = (n: Node): boolean => (n.mode & S_IFMT) === S_IFDIR;

export class MemoryFs implements VolumeFs {
  readonly readOnly: boolean;
  readonly writeSizes: number[] = [];
  readonly readSizes: number[] = [];
  private nextIno = 1;
  private nextHandle = 1;
  private readonly handles = new Map<number, Node>();
  private readonly root: Node;

  constructor(options: { readOnly?: boolean } = {}) {
    this.readOnly = options.readOnly === true;
    this.root = this.node(S_IFDIR | 0o755);
    this.root.nlink = 2;
  }

  /** A file with content, placed before mounting (a read-only volume can't get one otherwise). */
  seed(path: string, content: string): void {
    const [parent, name] = this.parentOf(path);
    const file = this.node(S_IFREG | 0o644);
    file.data = Buffer.from(content);
    parent.entries.set(name, file);
  }

  async statfs(): Promise<StatFs> {
    return {
      bsize: 4096, frsize: 4096, blocks: 1000, bfree: 600, bavail: 500, files: 100, ffree: 90, favail: 90, namemax: 255,
    };
  }

  async getattr(path: string): Promise<Attr> {
    return attrOf(this.lookup(path));
  }

  async fgetattr(fh: number): Promise<Attr> {
    return attrOf(this.handle(fh));
  }

  async readdir(path: string): Promise<string[]> {
    return [...this.dir(path).entries.keys()];
  }

  async mkdir(path: string, mode: number): Promise<void> {
    const [parent, name] = this.parentOf(path);
    if (parent.entries.has(name)) throw new FsError('EEXIST', path);
    const dir = this.node(S_IFDIR | (mode & 0o7777));
    dir.nlink = 2;
    parent.nlink++;
    parent.entries.set(name, dir);
  }

  async rmdir(path: string): Promise<void> {
    const [parent, name] = this.parentOf(path);
    const dir = this.dir(path);
    if (dir.entries.size > 0) throw new FsError('ENOTEMPTY', path);
    parent.entries.delete(name);
    parent.nlink--;
  }

  async create(path: string, mode: number): Promise<number> {
    const [parent, name] = this.parentOf(path);
    if (parent.entries.has(name)) throw new FsError('EEXIST', path);
    const file = this.node(S_IFREG | (mode & 0o7777));
    parent.entries.set(name, file);
    return this.openNode(file);
  }

  async open(path: string): Promise<number> {
    return this.openNode(this.lookup(path));
  }

  async release(fh: number): Promise<void> {
    this.handle(fh);
    this.handles.delete(fh);
  }

  async read(fh: number, into: Uint8Array, length: number, position: number): Promise<number> {
    this.readSizes.push(length);
    const data = this.handle(fh).data;
    const n = Math.max(0, Math.min(length, data.length - position));
    into.set(data.subarray(position, position + n));
    return n;
  }

  async write(fh: number, data: Uint8Array, length: number, position: number): Promise<number> {
    this.writeSizes.push(length);
    const file = this.handle(fh);
    const end = position + length;
    if (end > file.data.length) file.data = Buffer.concat([file.data, Buffer.alloc(end - file.data.length)]);
    file.data.set(data.subarray(0, length), position);
    file.mtimeMs = file.ctimeMs = Date.now();
    return length;
  }

  async flush(fh: number): Promise<void> {
    this.handle(fh);
  }

  async fsync(fh: number): Promise<void> {
    this.handle(fh);
  }

  async fsyncdir(path: string): Promise<void> {
    this.lookup(path);
  }

  async truncate(path: string, size: number): Promise<void> {
    resize(this.lookup(path), size);
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    resize(this.handle(fh), size);
  }

  async unlink(path: string): Promise<void> {
    const [parent, name] = this.parentOf(path);
    const node = this.lookup(path);
    if (isDir(node)) throw new FsError('EISDIR', path);
    parent.entries.delete(name);
    node.nlink--;
  }

  async rename(from: string, to: string): Promise<void> {
    const [fromParent, fromName] = this.parentOf(from);
    const [toParent, toName] = this.parentOf(to);
    const node = this.lookup(from);
    const replaced = toParent.entries.get(toName);
    if (replaced !== undefined) {
      if (isDir(replaced) && !isDir(node)) throw new FsError('EISDIR', to);
      if (!isDir(replaced) && isDir(node)) throw new FsError('ENOTDIR', to);
      if (isDir(replaced) && replaced.entries.size > 0) throw new FsError('ENOTEMPTY', to);
    }
    fromParent.entries.delete(fromName);
    toParent.entries.set(toName, node);
  }

  async link(existing: string, path: string): Promise<void> {
    const node = this.lookup(existing);
    if (isDir(node)) throw new FsError('EPERM', existing);
    const [parent, name] = this.parentOf(path);
    if (parent.entries.has(name)) throw new FsError('EEXIST', path);
    parent.entries.set(name, node);
    node.nlink++;
  }

  async symlink(target: string, path: string): Promise<void> {
    const [parent, name] = this.parentOf(path);
    if (parent.entries.has(name)) throw new FsError('EEXIST', path);
    const link = this.node(S_IFLNK | 0o777);
    link.target = target;
    parent.entries.set(name, link);
  }

  async readlink(path: string): Promise<string> {
    const node = this.lookup(path);
    if ((node.mode & S_IFMT) !== S_IFLNK) throw new FsError('EINVAL', path);
    return node.target;
  }

  async chmod(path: string, mode: number): Promise<void> {
    const node = this.lookup(path);
    node.mode = (node.mode & S_IFMT) | (mode & 0o7777);
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    const node = this.lookup(path);
    node.uid = uid;
    node.gid = gid;
  }

  async utimens(path: string, atimeMs: number, mtimeMs: number): Promise<void> {
    const node = this.lookup(path);
    node.atimeMs = atimeMs;
    node.mtimeMs = mtimeMs;
  }

  async setxattr(path: string, name: string, value: Uint8Array, flags: number): Promise<void> {
    const { xattrs } = this.lookup(path);
    if (flags & XATTR_CREATE && xattrs.has(name)) throw new FsError('EEXIST', name);
    if (flags & XATTR_REPLACE && !xattrs.has(name)) throw new FsError('ENODATA', name);
    xattrs.set(name, value);
  }

  async getxattr(path: string, name: string): Promise<Uint8Array> {
    const value = this.lookup(path).xattrs.get(name);
    if (value === undefined) throw new FsError('ENODATA', name);
    return value;
  }

  async listxattr(path: string): Promise<string[]> {
    return [...this.lookup(path).xattrs.keys()];
  }

  async removexattr(path: string, name: string): Promise<void> {
    if (!this.lookup(path).xattrs.delete(name)) throw new FsError('ENODATA', name);
  }

  private node(mode: number): Node {
    const now = Date.now();
    return {
      ino: this.nextIno++,
      mode,
      nlink: 1,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      atimeMs: now,
      mtimeMs: now,
      ctimeMs: now,
      data: Buffer.alloc(0),
      entries: new Map(),
      target: '',
      xattrs: new Map(),
    };
  }

  private lookup(path: string): Node {
    const parts = path.split('/').filter((p) => p !== '');
    if (parts.at(-1)?.startsWith('eio-')) throw new Error(`simulated backend failure at ${path}`);
    let node = this.root;
    for (const part of parts) {
      if (!isDir(node)) throw new FsError('ENOTDIR', path);
      const next = node.entries.get(part);
      if (next === undefined) throw new FsError('ENOENT', path);
      node = next;
    }
    return node;
  }

  private dir(path: string): Node {
    const node = this.lookup(path);
    if (!isDir(node)) throw new FsError('ENOTDIR', path);
    return node;
  }

  private parentOf(path: string): [Node, string] {
    const slash = path.lastIndexOf('/');
    return [this.dir(path.slice(0, slash) || '/'), path.slice(slash + 1)];
  }

  private handle(fh: number): Node {
    const node = this.handles.get(fh);
    if (node === undefined) throw new FsError('EBADF', `handle ${fh}`);
    return node;
  }

  private openNode(node: Node): number {
    const fh = this.nextHandle++;
    this.handles.set(fh, node);
    return fh;
  }
}

function attrOf(n: Node): Attr {
  const size = isDir(n) ? 4096 : (n.mode & S_IFMT) === S_IFLNK ? Buffer.byteLength(n.target) : n.data.length;
  const { ino, mode, nlink, uid, gid, atimeMs, mtimeMs, ctimeMs } = n;
  return { ino, mode, nlink, uid, gid, size, atimeMs, mtimeMs, ctimeMs };
}

function resize(node: Node, size: number): void {
  if (isDir(node)) throw new FsError('EISDIR', 'truncate of a directory');
  const { data } = node;
  node.data = size <= data.length ? data.subarray(0, size) : Buffer.concat([data, Buffer.alloc(size - data.length)]);
  node.mtimeMs = node.ctimeMs = Date.now();
}
