import { shardId } from '../crypto/index.js';
import { type MaybeShard, ReedSolomon } from '../../erasure/index.js';
import type { StripeDescriptor } from './descriptor.js';
import { StripeUnrecoverableError } from './errors.js';
import { SHARD_HEADER_BYTES, STRIPE_FORMAT_VERSION } from './format.js';

/**
 * The missing shards of a stripe, rebuilt from any k present ones without
 * keys: Reed–Solomon over the bodies, then each shard's header. Every rebuilt
 * shard is checked against the id the descriptor names, so a wrong input
 * shard can never be stored as a good one.
 */
export function rebuildShards(d: StripeDescriptor, shards: readonly MaybeShard[], missing: readonly number[]): Map<number, Uint8Array> {
  const n = d.k + d.m;
  const bodies = shards.map((s) => (s ? s.subarray(SHARD_HEADER_BYTES) : null));
  const present = bodies.filter(Boolean).length;
  if (present < d.k) throw new StripeUnrecoverableError(present, d.k, n, []);
  const all = ReedSolomon.for(d.k, d.m).reconstruct(bodies);
  const out = new Map<number, Uint8Array>();
  for (const i of missing) {
    const shard = new Uint8Array(SHARD_HEADER_BYTES + all[i].length);
    shard[0] = STRIPE_FORMAT_VERSION;
    shard[1] = i;
    shard.set(all[i], SHARD_HEADER_BYTES);
    if (shardId(shard) !== d.shardIds[i]) throw new StripeUnrecoverableError(present, d.k, n, [i]);
    out.set(i, shard);
  }
  return out;
}
