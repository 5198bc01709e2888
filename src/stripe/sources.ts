/**
 * Opening a stripe from shards given as bytes or as files to read. Files are
 * read here, synchronously: this runs on the stripe engine's worker threads,
 * so the thread that serves FUSE never waits on them. The first k readable
 * ones are read (data shards first, so no decoding is needed); the others
 * only if those do not open. Packed shards are read into memory this thread
 * reuses (store/range-reads.ts), free again once the stripe is open.
 */
import { readFileSync } from 'node:fs';
import type { MaybeShard } from '../../erasure/index.js';
// The module itself, not store/index: a worker should not carry every backend's code in its heap.
import type { FileRange } from '../store/packs.js';
import { type RangeReads, rangeReads } from '../store/range-reads.js';
import type { StripeDescriptor } from './descriptor.js';
import { StripeUnrecoverableError } from './errors.js';
import { shardBytes } from './format.js';
import { type OpenedStripe, openStripe } from './open.js';
import type { StripeKeys } from './seal.js';

/** A shard's bytes, the path of the file that holds it, the part of a file (a pack) that does, or nothing. */
export type ShardSource = Uint8Array | string | FileRange | null;

function load(source: ShardSource | undefined, reads: RangeReads): MaybeShard {
  if (source == null || source instanceof Uint8Array) return source ?? null;
  if (typeof source !== 'string') return reads.read(source) ?? null;
  try {
    const bytes = readFileSync(source);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  } catch {
    // Missing or unreadable: like a store that does not answer, another shard is used.
    return null;
  }
}

export async function openSources(d: StripeDescriptor, sources: readonly ShardSource[], keys: StripeKeys): Promise<OpenedStripe> {
  const n = d.k + d.m;
  const reads = rangeReads(n, shardBytes(d.paddedLength, d.k));
  try {
    return await openRead(d, sources, keys, reads);
  } finally {
    reads.release();
  }
}

async function openRead(d: StripeDescriptor, sources: readonly ShardSource[], keys: StripeKeys, reads: RangeReads): Promise<OpenedStripe> {
  const n = d.k + d.m;
  const shards: MaybeShard[] = new Array(n).fill(null);
  let have = 0;
  for (let i = 0; i < n && have < d.k; i++) {
    shards[i] = load(sources[i], reads);
    if (shards[i]) have++;
  }
  try {
    return await openStripe(d, shards, keys);
  } catch (err) {
    if (!(err instanceof StripeUnrecoverableError)) throw err;
    let more = false;
    for (let i = 0; i < n; i++) {
      if (shards[i] || sources[i] == null) continue;
      shards[i] = load(sources[i], reads);
      more ||= shards[i] != null;
    }
    if (!more) throw err;
    return openStripe(d, shards, keys);
  }
}
