/**
 * Memory reused on a stripe worker, by size: the shards of a stripe once
 * its packs are written, and a block the volume is done with (handed back
 * by StripeEngine.recycle). The next seal or open of that size writes into
 * it. A fresh buffer per stripe costs its pages anew, and on a virtual
 * machine whose host takes back free memory a host fault per page too
 * (store/range-reads.ts); freed buffers wait for a garbage collection, and
 * the allocator then hands whole runs of pages back to the system.
 */
import { uninitialized } from '../../erasure/index.js';

/** Every spare, oldest first: the oldest go when a new one needs the room (seal and open sizes differ). */
const kept: ArrayBuffer[] = [];
let spareBytes = 0;
/** A group of 8 sealed 1 MiB stripes in each of two lanes, and a read-ahead of blocks. */
const MAX_SPARE_BYTES = 32 * 2 ** 20;

function drop(at: number): ArrayBuffer {
  const [buffer] = kept.splice(at, 1);
  spareBytes -= buffer.byteLength;
  return buffer;
}

/** `bytes` bytes whose contents are left over from earlier use: write all of them before reading any. */
export function takeSpare(bytes: number): Uint8Array {
  const at = kept.findLastIndex((b) => b.byteLength === bytes);
  return at < 0 ? uninitialized(bytes) : new Uint8Array(drop(at));
}

/** Memory nothing reads or writes any more. Kept once, however often it is given (twice, two seals would share it). */
export function keepSpare(buffer: ArrayBuffer): void {
  if (buffer.byteLength === 0 || buffer.byteLength > MAX_SPARE_BYTES || kept.includes(buffer)) return;
  while (spareBytes + buffer.byteLength > MAX_SPARE_BYTES) drop(0);
  kept.push(buffer);
  spareBytes += buffer.byteLength;
}
