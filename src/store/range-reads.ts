/**
 * Reads of packed shards on a stripe worker, straight from the disk into
 * memory the thread keeps: O_DIRECT into one arena of page-aligned memory,
 * reused for every stripe. Through the page cache, a cold read of a 1 MiB
 * block took fresh page-cache pages for its shards, a copy out of them and
 * a fresh buffer for each shard (zeroed first): on a virtual machine whose
 * host takes back free memory, a fresh page costs a host fault as well.
 * Read direct, the device writes into pages this thread touched the stripe
 * before. The mount keeps its own cache of plaintext blocks, so the page
 * cache's copy of a shard was seldom read again.
 *
 * Where O_DIRECT is refused (EINVAL from some file systems, or any other
 * failure but a missing file) or the arena is in use, a range is read
 * through the page cache into a buffer of its own, as before.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { errorCode } from './fsio.js';
import type { FileRange } from './packs.js';

/** O_DIRECT wants offsets, lengths and memory aligned to the device's logical block: 512 or 4096 bytes. */
const ALIGN = 4096;
const WASM_PAGE = 65536;
/** Stripes whose shards need more are read through the page cache (16 MiB blocks at 1+1 still fit). */
const MAX_ARENA_BYTES = 64 * 2 ** 20;

/** Reads for one stripe: each view read() returns stays valid until release(). */
export interface RangeReads {
  /** The range's bytes; undefined when the file is gone or shorter than the range. */
  read(range: FileRange): Uint8Array | undefined;
  release(): void;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/** WebAssembly memory: the one kind of JavaScript memory whose start is page-aligned. */
let arena: WebAssembly.Memory | undefined;
let lent = false;
/** V8 reserves address space for each WebAssembly memory; where a limit (ulimit -v) refuses it, every read is buffered. */
let noArena = false;

function arenaOf(bytes: number): Uint8Array | undefined {
  const pages = Math.ceil(bytes / WASM_PAGE);
  try {
    // Grown only while nothing is lent: growing detaches every view of the old buffer.
    if (!arena) arena = new (WebAssembly.Memory as unknown as new (d: { initial: number }) => WebAssembly.Memory)({ initial: pages });
    else if (arena.buffer.byteLength < pages * WASM_PAGE) arena.grow(pages - arena.buffer.byteLength / WASM_PAGE);
  } catch {
    noArena = arena === undefined;
    return undefined;
  }
  return new Uint8Array(arena.buffer);
}

const BUFFERED: RangeReads = { read: readBuffered, release: () => undefined };

/** Reads up to `count` ranges of at most `length` bytes each, into this thread's arena when it is free. */
export function rangeReads(count: number, length: number): RangeReads {
  // A range that does not start on an alignment boundary spans one more block.
  const slot = roundUp(length, ALIGN) + ALIGN;
  if (lent || noArena || count * slot > MAX_ARENA_BYTES) return BUFFERED;
  const memory = arenaOf(count * slot);
  if (!memory) return BUFFERED;
  lent = true;
  let next = 0;
  let released = false;
  return {
    read(range) {
      if (released) throw new Error('RangeReads.read after release');
      if (range.length > length || next + slot > memory.length) return readBuffered(range);
      const got = readDirect(range, memory.subarray(next, next + slot));
      if (got === REFUSED) return readBuffered(range);
      if (got) next += slot;
      return got;
    },
    release() {
      if (!released) lent = false;
      released = true;
    },
  };
}

const REFUSED = Symbol('O_DIRECT refused');

function readDirect({ path, offset, length }: FileRange, into: Uint8Array): Uint8Array | undefined | typeof REFUSED {
  let fd: number;
  try {
    // Where there is no O_DIRECT (not Linux) the flag is undefined: a plain read, into the arena all the same.
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch (err) {
    return errorCode(err) === 'ENOENT' ? undefined : REFUSED;
  }
  try {
    const start = offset - (offset % ALIGN);
    const span = roundUp(offset + length, ALIGN) - start;
    for (let have = 0; start + have < offset + length; ) {
      have += readSync(fd, into, have, span - have, start + have);
      // Short of the range: the file ends first (or, rarely, a read stopped early). The next read would start
      // unaligned, so a buffered read says which.
      if (have < span && start + have < offset + length) return REFUSED;
    }
    return into.subarray(offset - start, offset - start + length);
  } catch {
    return REFUSED;
  } finally {
    closeSync(fd);
  }
}

/** Through the page cache, into a buffer of its own. */
export function readBuffered({ path, offset, length }: FileRange): Uint8Array | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    // Every byte is read over before use, or the buffer is dropped.
    const bytes = new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
    for (let at = 0; at < length; ) {
      const n = readSync(fd, bytes, at, length - at, offset + at);
      if (n === 0) return undefined;
      at += n;
    }
    return bytes;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
