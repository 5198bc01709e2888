/**
 * The metadata of a volume: inodes (files, directories, symlinks) with their
 * attributes, directory entries, extended attributes and block maps. Kept
 * whole in memory while mounted; persisted as sealed checkpoints (every
 * inode) and journal segments (the inodes changed since), see commit.ts.
 */
import { FsError } from './fs-types.js';

export const ROOT_INO = 1;
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const NAME_MAX = 255;

/** Where a block's stripe lives: its descriptor bytes and the store of each shard ('' = not placed). */
export interface BlockRef {
  descriptor: Uint8Array;
  stores: string[];
}

export interface Inode {
  ino: number;
  /** st_mode: type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  target?: string;
  entries?: Map<string, number>;
  blocks?: Map<number, BlockRef>;
  xattrs?: Map<string, Uint8Array>;
}

export const isDir = (i: Inode) => (i.mode & S_IFMT) === S_IFDIR;
export const isFile = (i: Inode) => (i.mode & S_IFMT) === S_IFREG;
export const isSymlink = (i: Inode) => (i.mode & S_IFMT) === S_IFLNK;

export class Meta {
  readonly inodes = new Map<number, Inode>();
  nextIno = ROOT_INO + 1;
  /** Inodes changed since the last commit took its snapshot. */
  changed = new Set<number>();

  static empty(now = Date.now()): Meta {
    const meta = new Meta();
    meta.inodes.set(ROOT_INO, {
      ino: ROOT_INO,
      mode: S_IFDIR | 0o755,
      uid: 0,
      gid: 0,
      nlink: 2,
      size: 0,
      atimeMs: now,
      mtimeMs: now,
      ctimeMs: now,
      entries: new Map(),
    });
    meta.changed.add(ROOT_INO);
    return meta;
  }

  get(ino: number): Inode {
    const inode = this.inodes.get(ino);
    if (!inode) throw new FsError('ENOENT', `inode ${ino} is gone`);
    return inode;
  }

  touch(inode: Inode): void {
    this.changed.add(inode.ino);
  }

  add(inode: Omit<Inode, 'ino'>): Inode {
    const full = { ...inode, ino: this.nextIno++ } as Inode;
    this.inodes.set(full.ino, full);
    this.changed.add(full.ino);
    return full;
  }

  remove(ino: number): void {
    this.inodes.delete(ino);
    this.changed.add(ino);
  }

  /** Splits "/a/b/c" into its parent directory inode and last name. */
  parentOf(path: string): { parent: Inode; name: string } {
    const parts = split(path);
    const name = parts.pop();
    if (name === undefined) throw new FsError('EINVAL', 'the root has no parent');
    if (name.length > NAME_MAX) throw new FsError('ENAMETOOLONG', `a name is at most ${NAME_MAX} bytes`);
    const parent = this.walk(parts, path);
    if (!isDir(parent)) throw new FsError('ENOTDIR', `${path}: a parent is not a directory`);
    return { parent, name };
  }

  lookup(path: string): Inode {
    return this.walk(split(path), path);
  }

  private walk(parts: string[], path: string): Inode {
    let inode = this.get(ROOT_INO);
    for (const part of parts) {
      if (part.length > NAME_MAX) throw new FsError('ENAMETOOLONG', `a name is at most ${NAME_MAX} bytes`);
      if (!isDir(inode)) throw new FsError('ENOTDIR', `${path}: a parent is not a directory`);
      const next = inode.entries?.get(part);
      if (next === undefined) throw new FsError('ENOENT', `${path}: no such file or directory`);
      inode = this.get(next);
    }
    return inode;
  }
}

function split(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

// --- serialization: JSON with byte strings in base64 (it is sealed before it leaves the machine) ---

interface InodeJson {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  target?: string;
  entries?: [string, number][];
  blocks?: [number, string, string[]][];
  xattrs?: [string, string][];
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export function inodeToJson(i: Inode): InodeJson {
  const { entries, blocks, xattrs, ...plain } = i;
  return {
    ...plain,
    ...(entries && { entries: [...entries] }),
    ...(blocks && { blocks: [...blocks].map(([n, r]) => [n, b64(r.descriptor), r.stores] as [number, string, string[]]) }),
    ...(xattrs && xattrs.size > 0 && { xattrs: [...xattrs].map(([k, v]) => [k, b64(v)] as [string, string]) }),
  };
}

export function inodeFromJson(j: InodeJson): Inode {
  const { entries, blocks, xattrs, ...plain } = j;
  return {
    ...plain,
    ...(entries && { entries: new Map(entries) }),
    ...(blocks && { blocks: new Map(blocks.map(([n, d, s]) => [n, { descriptor: unb64(d), stores: s }])) }),
    ...(xattrs && { xattrs: new Map(xattrs.map(([k, v]) => [k, unb64(v)])) }),
  };
}

export interface Segment {
  nextIno: number;
  upserts: InodeJson[];
  deletes: number[];
}

/** The inodes in `inos` as they are now: those still present are upserted, the rest deleted. */
export function segmentOf(meta: Meta, inos: Iterable<number>): Segment {
  const upserts: InodeJson[] = [];
  const deletes: number[] = [];
  for (const ino of inos) {
    const inode = meta.inodes.get(ino);
    if (inode) upserts.push(inodeToJson(inode));
    else deletes.push(ino);
  }
  return { nextIno: meta.nextIno, upserts, deletes };
}

export function applySegment(meta: Meta, s: Segment): void {
  for (const j of s.upserts) meta.inodes.set(j.ino, inodeFromJson(j));
  for (const ino of s.deletes) meta.inodes.delete(ino);
  meta.nextIno = Math.max(meta.nextIno, s.nextIno);
}

export function checkpointOf(meta: Meta): Segment {
  return segmentOf(meta, meta.inodes.keys());
}
