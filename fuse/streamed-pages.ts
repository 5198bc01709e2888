/**
 * Drops the kernel's cached pages of a file being written as a stream
 * (dd, cp or tar of a large file: each write starting where the last one
 * ended). libfuse 2 has no writeback cache: every write's data passes
 * through the FUSE file's page cache (the writer's own copy into it), and
 * those pages stay. A long stream therefore takes fresh pages all along,
 * and on a virtual machine whose host takes back free memory each one costs
 * a host fault: past about 1 GiB of a 2 GiB write, the writer's copy went
 * from under 1% of all CPU samples to 19%, and the write ran at 165-181
 * MB/s. With the pages dropped every 32 MiB the writer reuses the same few,
 * and the same write ran at 254-256 MB/s (docs/VOLUMES.md).
 *
 * The drop opens the file through the mount, read-only (the request comes
 * back to this process and is answered like any other, so it must never be
 * made synchronously from the thread that serves FUSE), and asks the kernel
 * to let go of the clean pages nobody has mapped or locked
 * (posix_fadvise(POSIX_FADV_DONTNEED)). No application sees a difference: a
 * later read asks the volume, whose own cache holds the recent blocks.
 * Random writes are left alone, their pages are what a database reads next.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { dropCachedPages } from '../src/store/pagecache.js';

/** Streamed bytes between drops: a quarter of the volume's dirty limit, one commit's worth. */
export const DROP_EVERY_BYTES = 32 * 2 ** 20;
/** Files followed at once; the least recently written is forgotten first. */
const FOLLOWED = 16;

interface Stream {
  /** Where the last write ended. */
  end: number;
  /** Bytes written as a stream since the last drop. */
  streamed: number;
}

export class StreamedPages {
  readonly #mountPoint: string;
  readonly #drop: (fd: number) => void;
  readonly #streams = new Map<string, Stream>();
  readonly #dropping = new Map<string, Promise<void>>();
  #closed = false;

  constructor(mountPoint: string, drop: (fd: number) => void = dropCachedPages) {
    this.#mountPoint = mountPoint;
    this.#drop = drop;
  }

  /** A write of `length` bytes at `position` to `path` (a path inside the mount) succeeded. */
  wrote(path: string, position: number, length: number): void {
    if (this.#closed || length <= 0) return;
    // A file first seen counts as a stream from this write on.
    const stream = this.#streams.get(path) ?? { end: position, streamed: 0 };
    this.#streams.delete(path);
    this.#streams.set(path, stream);
    if (this.#streams.size > FOLLOWED) this.#streams.delete(this.#streams.keys().next().value!);
    stream.streamed = position === stream.end ? stream.streamed + length : 0;
    stream.end = position + length;
    if (stream.streamed < DROP_EVERY_BYTES || this.#dropping.has(path)) return;
    stream.streamed = 0;
    const dropping = this.#dropPages(path).finally(() => this.#dropping.delete(path));
    this.#dropping.set(path, dropping);
  }

  /** Stops dropping, once the drops under way are done (before unmounting: they hold the file open). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#dropping.values());
  }

  async #dropPages(path: string): Promise<void> {
    try {
      const file = await open(join(this.#mountPoint, path), 'r');
      try {
        this.#drop(file.fd);
      } finally {
        await file.close();
      }
    } catch {
      // Renamed, deleted or unmounted meanwhile: its pages stay, which only costs speed.
    }
  }
}
