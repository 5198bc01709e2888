/**
 * Streamed reads drop the kernel's cached pages of their file behind them.
 * A cold read fills the FUSE file's page cache with pages the kernel has
 * not touched for a while, and on a virtual machine that hands free memory
 * back to its host each costs a host fault: up to a fifth of a cold read's
 * CPU, and most of the difference between a slow run and a fast one. After
 * every 32 MiB a handle reads in order, the mount opens the file through
 * itself and closes it again: an open without keep_cache drops the file's
 * cached pages, and the next pages the kernel needs are the ones it just
 * freed. (Holding the read's answer until then would deadlock: the drop
 * waits on the page that very read is filling. So the drop runs beside the
 * reads.)
 *
 * A drop's handle is open for a moment, and libfuse 2 turns an unlink of
 * an open file into a rename to `.fuse_hidden…`, unlinked at its last
 * close: `rm -r` of a directory just read could then find it not empty.
 * `hideIsUnlink` tells the adapter when such a rename is owed only to
 * drops, so that it unlinks instead (the volume keeps an unlinked inode
 * for its open handles, and libfuse's later unlink of the hidden name
 * finds nothing).
 */
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** How far a handle reads in order between drops. */
export const DROP_EVERY_BYTES = 32 * 2 ** 20;
/** How far from the furthest end read so far a read may start and still count as in order. */
const IN_ORDER_BYTES = 2 * 2 ** 20;
/** How long after a drop's release a hide is still owed to it (libfuse counts the release a moment later). */
const RECENT_MS = 2_000;
/** A drop opens read-only and non-blocking, which a drop's open handler checks besides the path. */
const DROP_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NONBLOCK;
const HIDDEN_NAME = /^\.fuse_hidden[0-9a-f]{16}$/;
const O_ACCMODE = 3;

/** libfuse 2's rename of an open file it was asked to unlink. */
export const isHideRename = (src: string, dest: string): boolean =>
  HIDDEN_NAME.test(basename(dest)) && dirname(dest) === dirname(src);

/** How a drop opens the file through the mount (fs/promises' open; tests hold it). */
export type OpenFile = (path: string, flags: number) => Promise<{ close(): Promise<void> }>;

export class ReadDrops {
  readonly #mountDir: string;
  readonly #open: OpenFile;
  /** How far each handle has read (its furthest end), and how much in order since its last drop. */
  readonly #streams = new Map<number, { end: number; run: number }>();
  /** Paths with a drop under way, and whether its open has been claimed yet (by the first matching open of the path). */
  readonly #dropping = new Map<string, boolean>();
  /** Drops' handles, with their inode, and when each inode's last drop was released. */
  readonly #handles = new Map<number, number>();
  readonly #released = new Map<number, number>();
  /** Opens other than drops, per inode. */
  readonly #userOpens = new Map<number, number>();
  readonly #userHandles = new Map<number, number>();
  #drops = 0;

  constructor(mountDir: string, openFile: OpenFile = open) {
    this.#mountDir = mountDir;
    this.#open = openFile;
  }

  /** How many drops have run (for tests and metrics). */
  get drops(): number {
    return this.#drops;
  }

  /**
   * Records a read of `length` bytes at `position` on `fh`; starts a drop
   * every DROP_EVERY_BYTES read in order. The kernel's read-ahead keeps
   * several reads in flight and they finish in any order, so "in order"
   * means within IN_ORDER_BYTES of the furthest end read so far.
   */
  read(path: string, fh: number, position: number, length: number): void {
    const s = this.#streams.get(fh) ?? { end: 0, run: 0 };
    s.run = Math.abs(position - s.end) <= IN_ORDER_BYTES ? s.run + length : length;
    s.end = Math.max(s.end, position + length);
    this.#streams.set(fh, s);
    if (s.run < DROP_EVERY_BYTES) return;
    s.run = 0;
    this.#drop(path);
  }

  #drop(path: string): void {
    if (this.#dropping.has(path)) return;
    this.#dropping.set(path, false);
    this.#drops++;
    this.#open(join(this.#mountDir, path), DROP_FLAGS)
      .then((handle) => handle.close())
      // Gone or renamed meanwhile, or the mount going away: nothing to drop.
      .catch(() => undefined)
      .finally(() => this.#dropping.delete(path));
  }

  /** Called when an open of `path` with `flags` got `fh` on inode `ino`; says whether it was a drop's. */
  opened(path: string, flags: number, fh: number, ino: number): boolean {
    const drop = this.#dropping.get(path) === false && (flags & (O_ACCMODE | fsConstants.O_NONBLOCK)) === DROP_FLAGS;
    if (drop) {
      this.#dropping.set(path, true);
      this.#handles.set(fh, ino);
    } else {
      this.#userHandles.set(fh, ino);
      this.#userOpens.set(ino, (this.#userOpens.get(ino) ?? 0) + 1);
    }
    return drop;
  }

  released(fh: number): void {
    this.#streams.delete(fh);
    const dropIno = this.#handles.get(fh);
    if (dropIno !== undefined) {
      this.#handles.delete(fh);
      this.#released.set(dropIno, Date.now());
      return;
    }
    const ino = this.#userHandles.get(fh);
    if (ino === undefined) return;
    this.#userHandles.delete(fh);
    const left = (this.#userOpens.get(ino) ?? 1) - 1;
    if (left > 0) this.#userOpens.set(ino, left);
    else this.#userOpens.delete(ino);
  }

  /** Whether libfuse's hide of inode `ino` is owed only to drops: no other open, and a drop open or just released. */
  hideIsUnlink(ino: number): boolean {
    if (this.#userOpens.has(ino)) return false;
    const now = Date.now();
    for (const [i, at] of this.#released) if (now - at > RECENT_MS) this.#released.delete(i);
    return this.#released.has(ino) || [...this.#handles.values()].includes(ino);
  }
}
