/**
 * POSIX semantics over a volume's metadata and blocks. Each change is
 * recorded as an Op (ops.ts), written to the local journal before the call
 * returns, and applied to the in-memory state; commits (volume.ts) carry the
 * state to the backend on fsync, on close after writing, and on a timer.
 */
import { DataLayer } from './data.js';
import { type Attr, FsError, type OpenFlags, type StatFs, type VolumeFs } from './fs-types.js';
import {
  type BlockRef,
  type Inode,
  Meta,
  NAME_MAX,
  ROOT_INO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  isDir,
  isFile,
  isSymlink,
} from './meta.js';
import type { Op } from './ops.js';

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
/** Files up to 2^50 bytes: far past 4 GiB, well inside exact JS integers. */
const MAX_FILE_BYTES = 2 ** 50;

export interface FsHooks {
  /** Makes `op` survive a crash of this process before the call returns. */
  journal(op: Op): Promise<void>;
  /** Commits everything so far to the backend (fsync, close after write). */
  commit(): Promise<void>;
  /** After a write, outside the op queue: may wait for a commit when too much is dirty. */
  written(): Promise<void>;
  /** Stripes no longer referenced: deleted from the stores after the next commit. */
  discard(refs: BlockRef[]): void;
  statfs(): Promise<StatFs>;
}

interface Handle {
  ino: number;
  flags: number;
  wrote: boolean;
}

export class VolumeFileSystem implements VolumeFs {
  readonly readOnly: boolean;
  readonly meta: Meta;
  readonly data: DataLayer;
  readonly #hooks: FsHooks;
  readonly #handles = new Map<number, Handle>();
  readonly #openCount = new Map<number, number>();
  #nextFh = 1;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(meta: Meta, data: DataLayer, hooks: FsHooks, readOnly: boolean) {
    this.meta = meta;
    this.data = data;
    this.#hooks = hooks;
    this.readOnly = readOnly;
  }

  // ---- reads ----

  statfs(): Promise<StatFs> {
    return this.#hooks.statfs();
  }

  async getattr(path: string): Promise<Attr> {
    return attrOf(this.meta.lookup(path));
  }

  async fgetattr(fh: number): Promise<Attr> {
    return attrOf(this.meta.get(this.#handle(fh).ino));
  }

  async readdir(path: string): Promise<string[]> {
    const dir = this.meta.lookup(path);
    if (!isDir(dir)) throw new FsError('ENOTDIR', `${path} is not a directory`);
    return [...(dir.entries?.keys() ?? [])];
  }

  async readlink(path: string): Promise<string> {
    const inode = this.meta.lookup(path);
    if (!isSymlink(inode)) throw new FsError('EINVAL', `${path} is not a symbolic link`);
    return inode.target ?? '';
  }

  async getxattr(path: string, name: string): Promise<Uint8Array> {
    const value = this.meta.lookup(path).xattrs?.get(name);
    if (!value) throw new FsError('ENODATA', `${path} has no attribute ${name}`);
    return value;
  }

  async listxattr(path: string): Promise<string[]> {
    return [...(this.meta.lookup(path).xattrs?.keys() ?? [])];
  }

  async open(path: string, flags: OpenFlags): Promise<number> {
    const inode = this.meta.lookup(path);
    const writing = (flags & O_ACCMODE) === O_WRONLY || (flags & O_ACCMODE) === O_RDWR;
    if (isDir(inode) && writing) throw new FsError('EISDIR', `${path} is a directory`);
    if (writing || flags & O_TRUNC) this.#writable();
    if (flags & O_TRUNC && isFile(inode) && inode.size > 0) {
      await this.#change({ op: 'truncate', ino: inode.ino, size: 0, now: Date.now() });
    }
    return this.#newHandle(inode.ino, flags);
  }

  async read(fh: number, into: Uint8Array, length: number, position: number): Promise<number> {
    const inode = this.meta.get(this.#handle(fh).ino);
    if (isDir(inode)) throw new FsError('EISDIR', 'read of a directory');
    return this.data.read(inode, into, length, position);
  }

  async release(fh: number): Promise<void> {
    const handle = this.#handles.get(fh);
    if (!handle) return;
    this.#handles.delete(fh);
    const left = (this.#openCount.get(handle.ino) ?? 1) - 1;
    if (left > 0) {
      this.#openCount.set(handle.ino, left);
      return;
    }
    this.#openCount.delete(handle.ino);
    const inode = this.meta.inodes.get(handle.ino);
    if (inode && inode.nlink === 0 && !this.readOnly) await this.#change({ op: 'forget', ino: handle.ino, now: Date.now() });
  }

  async flush(fh: number): Promise<void> {
    const handle = this.#handles.get(fh);
    if (handle?.wrote && !this.readOnly) {
      handle.wrote = false;
      await this.#hooks.commit();
    }
  }

  async fsync(fh: number, _datasync = false): Promise<void> {
    this.#handle(fh);
    if (!this.readOnly) await this.#hooks.commit();
  }

  async fsyncdir(path: string): Promise<void> {
    this.meta.lookup(path);
    if (!this.readOnly) await this.#hooks.commit();
  }

  // ---- changes ----

  async mkdir(path: string, mode: number): Promise<void> {
    await this.#change({ op: 'mkdir', path, mode, now: Date.now() });
  }

  async create(path: string, mode: number, flags: OpenFlags): Promise<number> {
    this.#writable();
    const existing = this.#maybe(path);
    if (existing) return this.open(path, flags);
    await this.#change({ op: 'create', path, mode, now: Date.now() });
    return this.#newHandle(this.meta.lookup(path).ino, flags);
  }

  async rmdir(path: string): Promise<void> {
    await this.#change({ op: 'rmdir', path, now: Date.now() });
  }

  async unlink(path: string): Promise<void> {
    await this.#change({ op: 'unlink', path, now: Date.now() });
  }

  async rename(from: string, to: string): Promise<void> {
    await this.#change({ op: 'rename', from, to, now: Date.now() });
  }

  async link(existing: string, path: string): Promise<void> {
    await this.#change({ op: 'link', existing, path, now: Date.now() });
  }

  async symlink(target: string, path: string): Promise<void> {
    await this.#change({ op: 'symlink', target, path, now: Date.now() });
  }

  async write(fh: number, data: Uint8Array, length: number, position: number): Promise<number> {
    const handle = this.#handle(fh);
    if ((handle.flags & O_ACCMODE) === 0) throw new FsError('EBADF', 'handle not open for writing');
    // Not copied: the caller's buffer stays valid until this returns, and the change is applied
    // (copied into its block) and journaled (sealed into a record) before then.
    const bytes = data.subarray(0, length);
    await this.#change({ op: 'write', ino: handle.ino, position, data: bytes, now: Date.now() }, handle.flags & O_APPEND ? 'append' : undefined);
    handle.wrote = true;
    await this.#hooks.written();
    return length;
  }

  async truncate(path: string, size: number): Promise<void> {
    const inode = this.meta.lookup(path);
    await this.#change({ op: 'truncate', ino: inode.ino, size, now: Date.now() });
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    const handle = this.#handle(fh);
    await this.#change({ op: 'truncate', ino: handle.ino, size, now: Date.now() });
    handle.wrote = true;
  }

  async chmod(path: string, mode: number): Promise<void> {
    await this.#change({ op: 'chmod', path, mode, now: Date.now() });
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    await this.#change({ op: 'chown', path, uid, gid, now: Date.now() });
  }

  async utimens(path: string, atimeMs: number, mtimeMs: number): Promise<void> {
    await this.#change({ op: 'utimens', path, atimeMs, mtimeMs, now: Date.now() });
  }

  async setxattr(path: string, name: string, value: Uint8Array, flags: number): Promise<void> {
    await this.#change({ op: 'setxattr', path, name, value: Uint8Array.from(value), flags, now: Date.now() });
  }

  async removexattr(path: string, name: string): Promise<void> {
    await this.#change({ op: 'removexattr', path, name, now: Date.now() });
  }

  /** Runs `fn` between two changes, with none half-applied (commits take their snapshot here). */
  exclusive<T>(fn: () => T): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Applies one change in order with every other (one at a time, so the
   * journal's order is the order of application), journaling it first.
   */
  #change(op: Op, mode?: 'append'): Promise<void> {
    let durable: Promise<void> | undefined;
    const run = async () => {
      this.#writable();
      if (op.op === 'write' && mode === 'append') op.position = this.meta.get(op.ino).size;
      await this.prepare(op);
      this.apply(op);
      // In the journal's order now; the caller waits for it to be written, the next change need not.
      durable = this.#hooks.journal(op);
    };
    const applied = this.#queue.then(run, run);
    this.#queue = applied.catch(() => undefined);
    return applied.then(() => durable);
  }

  /** Loads what `apply` needs from the backend (blocks for partial writes and truncation). */
  async prepare(op: Op): Promise<void> {
    if (op.op === 'write') {
      const inode = this.meta.get(op.ino);
      if (!isFile(inode)) throw new FsError('EISDIR', 'write to a non-file');
      if (op.position + op.data.length > MAX_FILE_BYTES) throw new FsError('EFBIG', 'file too large');
      this.#loaded = await this.data.prepareWrite(inode, op.position, op.data.length);
    } else if (op.op === 'truncate') {
      const inode = this.meta.get(op.ino);
      if (isDir(inode)) throw new FsError('EISDIR', 'truncate of a directory');
      if (!isFile(inode)) throw new FsError('EINVAL', 'truncate of a non-file');
      if (op.size < 0 || !Number.isSafeInteger(op.size)) throw new FsError('EINVAL', `bad size ${op.size}`);
      if (op.size > MAX_FILE_BYTES) throw new FsError('EFBIG', 'file too large');
      if (op.size < inode.size) {
        this.#hooks.discard(await this.#cut(inode, op.size));
      }
    }
  }

  #loaded = new Map<number, Uint8Array | undefined>();

  async #cut(inode: Inode, size: number): Promise<BlockRef[]> {
    const bs = this.data.blockSize;
    const refsBefore = new Map(inode.blocks ?? []);
    await this.data.truncate(inode, size);
    // Blocks that went wholly, plus the old ref of a cut last block (it is rewritten dirty).
    const gone: BlockRef[] = [];
    for (const [i, ref] of refsBefore) {
      if (i >= Math.ceil(size / bs)) gone.push(ref);
    }
    return gone;
  }

  /** The state change of `op`, synchronous; throws FsError (changing nothing) when it does not apply. */
  apply(op: Op): void {
    const m = this.meta;
    const now = op.now;
    switch (op.op) {
      case 'mkdir':
      case 'create':
      case 'symlink': {
        const { parent, name } = m.parentOf(op.path);
        if (parent.entries?.has(name)) throw new FsError('EEXIST', `${op.path} exists`);
        const kind = op.op === 'mkdir' ? S_IFDIR : op.op === 'create' ? S_IFREG : S_IFLNK;
        const perm = op.op === 'symlink' ? 0o777 : op.mode & 0o7777;
        const inode = m.add({
          mode: kind | perm,
          uid: 0,
          gid: 0,
          nlink: kind === S_IFDIR ? 2 : 1,
          size: op.op === 'symlink' ? Buffer.byteLength(op.target) : 0,
          atimeMs: now,
          mtimeMs: now,
          ctimeMs: now,
          ...(kind === S_IFDIR && { entries: new Map() }),
          ...(op.op === 'symlink' && { target: op.target }),
        });
        parent.entries?.set(name, inode.ino);
        if (kind === S_IFDIR) parent.nlink++;
        this.#modified(parent, now);
        return;
      }
      case 'rmdir': {
        const { parent, name } = m.parentOf(op.path);
        const ino = parent.entries?.get(name);
        if (ino === undefined) throw new FsError('ENOENT', `${op.path}: no such directory`);
        const dir = m.get(ino);
        if (!isDir(dir)) throw new FsError('ENOTDIR', `${op.path} is not a directory`);
        if (dir.entries && dir.entries.size > 0) throw new FsError('ENOTEMPTY', `${op.path} is not empty`);
        parent.entries?.delete(name);
        parent.nlink--;
        m.remove(ino);
        this.#modified(parent, now);
        return;
      }
      case 'unlink': {
        const { parent, name } = m.parentOf(op.path);
        const ino = parent.entries?.get(name);
        if (ino === undefined) throw new FsError('ENOENT', `${op.path}: no such file`);
        const inode = m.get(ino);
        if (isDir(inode)) throw new FsError('EISDIR', `${op.path} is a directory`);
        parent.entries?.delete(name);
        this.#modified(parent, now);
        this.#unlinked(inode, now);
        return;
      }
      case 'rename': {
        this.#rename(op.from, op.to, now);
        return;
      }
      case 'link': {
        const inode = m.lookup(op.existing);
        if (isDir(inode)) throw new FsError('EPERM', `${op.existing} is a directory`);
        const { parent, name } = m.parentOf(op.path);
        if (parent.entries?.has(name)) throw new FsError('EEXIST', `${op.path} exists`);
        parent.entries?.set(name, inode.ino);
        inode.nlink++;
        inode.ctimeMs = now;
        m.touch(inode);
        this.#modified(parent, now);
        return;
      }
      case 'write': {
        const inode = m.get(op.ino);
        this.data.applyWrite(inode, op.data, op.position, this.#loadedFor(op));
        inode.size = Math.max(inode.size, op.position + op.data.length);
        this.#modified(inode, now);
        return;
      }
      case 'truncate': {
        const inode = m.get(op.ino);
        inode.size = op.size;
        this.#modified(inode, now);
        return;
      }
      case 'chmod': {
        const inode = m.lookup(op.path);
        inode.mode = (inode.mode & S_IFMT) | (op.mode & 0o7777);
        this.#changedAttr(inode, now);
        return;
      }
      case 'chown': {
        const inode = m.lookup(op.path);
        // -1 (as an unsigned 32-bit value) means "leave as is", as chown(2) has it.
        if (op.uid !== -1 && op.uid !== 0xffffffff) inode.uid = op.uid;
        if (op.gid !== -1 && op.gid !== 0xffffffff) inode.gid = op.gid;
        this.#changedAttr(inode, now);
        return;
      }
      case 'utimens': {
        const inode = m.lookup(op.path);
        inode.atimeMs = op.atimeMs;
        inode.mtimeMs = op.mtimeMs;
        this.#changedAttr(inode, now);
        return;
      }
      case 'setxattr': {
        const inode = m.lookup(op.path);
        inode.xattrs ??= new Map();
        const has = inode.xattrs.has(op.name);
        if (op.flags & XATTR_CREATE && has) throw new FsError('EEXIST', `attribute ${op.name} exists`);
        if (op.flags & XATTR_REPLACE && !has) throw new FsError('ENODATA', `no attribute ${op.name}`);
        if (op.name.length > NAME_MAX) throw new FsError('ERANGE', 'attribute name too long');
        inode.xattrs.set(op.name, op.value);
        this.#changedAttr(inode, now);
        return;
      }
      case 'removexattr': {
        const inode = m.lookup(op.path);
        if (!inode.xattrs?.delete(op.name)) throw new FsError('ENODATA', `no attribute ${op.name}`);
        this.#changedAttr(inode, now);
        return;
      }
      case 'forget': {
        const inode = m.inodes.get(op.ino);
        if (inode && inode.nlink === 0) this.#free(inode);
        return;
      }
    }
  }

  #loadedFor(op: Extract<Op, { op: 'write' }>): Map<number, Uint8Array | undefined> {
    const loaded = this.#loaded;
    this.#loaded = new Map();
    // In replay there was no prepare for this very op when it fails validation; fall back to "nothing loaded".
    if (loaded.size > 0) return loaded;
    const bs = this.data.blockSize;
    const out = new Map<number, Uint8Array | undefined>();
    for (let i = Math.floor(op.position / bs); i <= Math.floor((op.position + op.data.length - 1) / bs); i++) out.set(i, undefined);
    return out;
  }

  #rename(from: string, to: string, now: number): void {
    const m = this.meta;
    const src = m.parentOf(from);
    const ino = src.parent.entries?.get(src.name);
    if (ino === undefined) throw new FsError('ENOENT', `${from}: no such file or directory`);
    const moving = m.get(ino);
    const dst = m.parentOf(to);
    const existing = dst.parent.entries?.get(dst.name);
    if (existing === ino) return;
    if (isDir(moving)) {
      // A directory cannot move into itself or below itself.
      for (let p: Inode | undefined = dst.parent; p; p = p.ino === ROOT_INO ? undefined : this.#parentDir(p)) {
        if (p.ino === ino) throw new FsError('EINVAL', `cannot move ${from} inside itself`);
      }
    }
    if (existing !== undefined) {
      const target = m.get(existing);
      if (isDir(moving) && !isDir(target)) throw new FsError('ENOTDIR', `${to} is not a directory`);
      if (!isDir(moving) && isDir(target)) throw new FsError('EISDIR', `${to} is a directory`);
      if (isDir(target) && target.entries && target.entries.size > 0) throw new FsError('ENOTEMPTY', `${to} is not empty`);
      if (isDir(target)) {
        dst.parent.nlink--;
        m.remove(existing);
      } else {
        this.#unlinked(target, now);
      }
    }
    src.parent.entries?.delete(src.name);
    dst.parent.entries?.set(dst.name, ino);
    if (isDir(moving) && src.parent !== dst.parent) {
      src.parent.nlink--;
      dst.parent.nlink++;
    }
    moving.ctimeMs = now;
    m.touch(moving);
    this.#modified(src.parent, now);
    this.#modified(dst.parent, now);
  }

  #parentDir(dir: Inode): Inode | undefined {
    for (const inode of this.meta.inodes.values()) {
      if (inode.entries) for (const child of inode.entries.values()) if (child === dir.ino && inode.ino !== dir.ino) return inode;
    }
    return undefined;
  }

  #unlinked(inode: Inode, now: number): void {
    inode.nlink--;
    inode.ctimeMs = now;
    this.meta.touch(inode);
    if (inode.nlink === 0 && !this.#openCount.has(inode.ino)) this.#free(inode);
  }

  #free(inode: Inode): void {
    if (isFile(inode)) this.#hooks.discard(this.data.dropFrom(inode, 0));
    this.meta.remove(inode.ino);
  }

  #modified(inode: Inode, now: number): void {
    inode.mtimeMs = now;
    inode.ctimeMs = now;
    this.meta.touch(inode);
  }

  #changedAttr(inode: Inode, now: number): void {
    inode.ctimeMs = now;
    this.meta.touch(inode);
  }

  #maybe(path: string): Inode | undefined {
    try {
      return this.meta.lookup(path);
    } catch (err) {
      if (err instanceof FsError && err.errno === 'ENOENT') return undefined;
      throw err;
    }
  }

  #newHandle(ino: number, flags: number): number {
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino, flags, wrote: false });
    this.#openCount.set(ino, (this.#openCount.get(ino) ?? 0) + 1);
    return fh;
  }

  #handle(fh: number): Handle {
    const handle = this.#handles.get(fh);
    if (!handle) throw new FsError('EBADF', `no open file handle ${fh}`);
    return handle;
  }

  #writable(): void {
    if (this.readOnly) throw new FsError('EROFS', 'the volume is mounted read-only');
  }
}

export function attrOf(i: Inode): Attr {
  return {
    ino: i.ino,
    mode: i.mode,
    nlink: i.nlink,
    uid: i.uid,
    gid: i.gid,
    size: isDir(i) ? 4096 : i.size,
    atimeMs: i.atimeMs,
    mtimeMs: i.mtimeMs,
    ctimeMs: i.ctimeMs,
  };
}
