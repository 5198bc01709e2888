/**
 * Opened blocks' memory, reused on a stripe worker. The volume hands a block
 * it is done with back (StripeEngine.recycle), and the next block of that
 * size opened on this thread is decrypted into it: a fresh buffer per block
 * read costs its pages anew (store/range-reads.ts says why that is dear).
 */
import { uninitialized } from '../../erasure/index.js';

const spares = new Map<number, ArrayBuffer[]>();
let spareBytes = 0;
/** Two read-aheads' worth of 1 MiB blocks per thread: more would only sit there. */
const MAX_SPARE_BYTES = 16 * 2 ** 20;

/** A block of `bytes` bytes whose contents are left over from an earlier block: write all of it before use. */
export function takeBlock(bytes: number): Uint8Array {
  const buffer = spares.get(bytes)?.pop();
  if (!buffer) return uninitialized(bytes);
  spareBytes -= bytes;
  return new Uint8Array(buffer);
}

/** Memory of a block nothing reads any more. */
export function keepBlock(buffer: ArrayBuffer): void {
  if (buffer.byteLength === 0 || spareBytes + buffer.byteLength > MAX_SPARE_BYTES) return;
  const list = spares.get(buffer.byteLength) ?? [];
  spares.set(buffer.byteLength, list);
  list.push(buffer);
  spareBytes += buffer.byteLength;
}
