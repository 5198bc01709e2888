import { NONCE_BYTES, TAG_BYTES, openInto, shardId } from '../crypto/index.js';
import { type MaybeShard, ReedSolomon, uninitialized } from '../../erasure/index.js';
import type { StripeDescriptor } from './descriptor.js';
import { StripeUnrecoverableError } from './errors.js';
import { SHARD_HEADER_BYTES, STRIPE_FORMAT_VERSION, associatedData, shardBytes, spans } from './format.js';
import type { StripeKeys } from './seal.js';

export interface OpenedStripe {
  readonly block: Uint8Array;
  /** Indices of shards that were given but failed their checks: report them for repair. */
  readonly bad: readonly number[];
}

function checks(descriptor: StripeDescriptor, shard: Uint8Array, index: number): boolean {
  return (
    shard.length === shardBytes(descriptor.paddedLength, descriptor.k) &&
    shard[0] === STRIPE_FORMAT_VERSION &&
    shard[1] === index &&
    shardId(shard) === descriptor.shardIds[index]
  );
}

/**
 * The block back from any k good shards (slot i holds shard i, or nothing).
 * Shards are checked against their ids one by one, data shards first, until
 * k pass; the others are not even hashed. A shard that fails is skipped and
 * reported in `bad`. Throws StripeUnrecoverableError with fewer than k good
 * shards, and AuthenticationError if the decoded ciphertext does not open
 * under this volume's key.
 */
export function openStripe(descriptor: StripeDescriptor, shards: readonly MaybeShard[], keys: StripeKeys): OpenedStripe {
  const { k, m } = descriptor;
  const n = k + m;
  const usable: MaybeShard[] = new Array(n).fill(null);
  const bad: number[] = [];
  let good = 0;
  for (let i = 0; i < n && good < k; i++) {
    const shard = shards[i];
    if (shard == null) continue;
    if (checks(descriptor, shard, i)) {
      usable[i] = shard.subarray(SHARD_HEADER_BYTES);
      good++;
    } else {
      bad.push(i);
    }
  }
  if (good < k) throw new StripeUnrecoverableError(good, k, n, bad);

  const bodies = usable.slice(0, k).every((b) => b != null)
    ? (usable.slice(0, k) as Uint8Array[])
    : ReedSolomon.for(k, m).reconstruct(usable, { dataOnly: true });

  const { paddedLength } = descriptor;
  const nonce = Buffer.concat(spans(bodies, 0, NONCE_BYTES));
  const ciphertext = spans(bodies, NONCE_BYTES, NONCE_BYTES + paddedLength);
  const tag = Buffer.concat(spans(bodies, NONCE_BYTES + paddedLength, NONCE_BYTES + paddedLength + TAG_BYTES));
  const block = uninitialized(paddedLength);
  openInto(keys.key, nonce, ciphertext, tag, associatedData(keys.volumeId, descriptor.kind), block, 'stripe');
  return { block: block.subarray(0, descriptor.length), bad };
}
