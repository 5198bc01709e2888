import { AuthenticationError, NONCE_BYTES, TAG_BYTES, hashHelperEnabled, hashOnHelper, openInto, shardId } from '../crypto/index.js';
import { type MaybeShard, ReedSolomon } from '../../erasure/index.js';
import { takeSpare } from './spares.js';
import type { StripeDescriptor } from './descriptor.js';
import { StripeUnrecoverableError } from './errors.js';
import { SHARD_HEADER_BYTES, STRIPE_FORMAT_VERSION, associatedData, shardBytes, spans } from './format.js';
import { borrowShared, giveBackShared } from './ids.js';
import type { StripeKeys } from './seal.js';

export interface OpenedStripe {
  readonly block: Uint8Array;
  /** Indices of shards that were given but failed their checks: report them for repair. */
  readonly bad: readonly number[];
}

function framed(d: StripeDescriptor, shard: Uint8Array, index: number): boolean {
  return shard.length === shardBytes(d.paddedLength, d.k) && shard[0] === STRIPE_FORMAT_VERSION && shard[1] === index;
}

/** Decodes (if a data body is missing) and decrypts; `bodies` has k or more entries present. */
function decrypt(d: StripeDescriptor, bodies: readonly MaybeShard[], keys: StripeKeys): Uint8Array {
  const data = bodies.slice(0, d.k).every((b) => b != null)
    ? (bodies.slice(0, d.k) as Uint8Array[])
    : ReedSolomon.for(d.k, d.m).reconstruct(bodies, { dataOnly: true });
  const { paddedLength } = d;
  const nonce = Buffer.concat(spans(data, 0, NONCE_BYTES));
  const ciphertext = spans(data, NONCE_BYTES, NONCE_BYTES + paddedLength);
  const tag = Buffer.concat(spans(data, NONCE_BYTES + paddedLength, NONCE_BYTES + paddedLength + TAG_BYTES));
  const block = takeSpare(paddedLength);
  openInto(keys.key, nonce, ciphertext, tag, associatedData(keys.volumeId, d.kind), block, 'stripe');
  return block.subarray(0, d.length);
}

/** Checks shards one by one, data shards first, until k pass; the others are not even hashed. */
function openCarefully(d: StripeDescriptor, shards: readonly MaybeShard[], keys: StripeKeys): OpenedStripe {
  const n = d.k + d.m;
  const bodies: MaybeShard[] = new Array(n).fill(null);
  const bad: number[] = [];
  let good = 0;
  for (let i = 0; i < n && good < d.k; i++) {
    const shard = shards[i];
    if (shard == null) continue;
    if (framed(d, shard, i) && shardId(shard) === d.shardIds[i]) {
      bodies[i] = shard.subarray(SHARD_HEADER_BYTES);
      good++;
    } else {
      bad.push(i);
    }
  }
  if (good < d.k) throw new StripeUnrecoverableError(good, d.k, n, bad);
  return { block: decrypt(d, bodies, keys), bad };
}

/**
 * The common case on two cores: the first k shards given are whole, so hash
 * them on the helper thread while this one decodes and decrypts. Nothing is
 * returned before the hashes match; on any doubt (a bad frame or hash) the
 * result is wiped and undefined returned, for openCarefully to sort out.
 */
async function openOptimistically(
  d: StripeDescriptor,
  shards: readonly MaybeShard[],
  keys: StripeKeys,
): Promise<OpenedStripe | undefined> {
  const chosen: number[] = [];
  for (let i = 0; i < d.k + d.m && chosen.length < d.k; i++) {
    const shard = shards[i];
    if (shard == null) continue;
    if (!framed(d, shard, i)) return undefined;
    chosen.push(i);
  }
  if (chosen.length < d.k) return undefined;
  const size = shardBytes(d.paddedLength, d.k);
  const scratch = borrowShared(d.k * size);
  const copies = chosen.map((i, x) => {
    const copy = scratch.subarray(x * size, (x + 1) * size);
    copy.set(shards[i] as Uint8Array);
    return copy;
  });
  const hashing = hashOnHelper(
    scratch.buffer as SharedArrayBuffer,
    copies.map((c) => [c.byteOffset, c.length] as const),
  );
  const bodies: MaybeShard[] = new Array(d.k + d.m).fill(null);
  chosen.forEach((i, x) => {
    bodies[i] = copies[x].subarray(SHARD_HEADER_BYTES);
  });
  let block: Uint8Array | undefined;
  let failure: unknown;
  try {
    block = decrypt(d, bodies, keys);
  } catch (err) {
    failure = err;
  }
  try {
    const ids = await hashing;
    if (ids.some((id, x) => id !== d.shardIds[chosen[x]])) {
      block?.fill(0);
      return undefined;
    }
  } finally {
    giveBackShared(scratch);
  }
  if (failure) throw failure;
  return { block: block as Uint8Array, bad: [] };
}

/**
 * The common case: every data shard is here. The AEAD tag already vouches
 * for every ciphertext byte, given the right nonce; hashing the data shard(s)
 * that hold the nonce pins it to this stripe (ids come from signed metadata),
 * so a store cannot pass off another stripe's shards, and the rest need no
 * hashing. On any doubt (a bad frame, hash or tag) undefined is returned, for
 * openCarefully to find which shard is at fault.
 */
function openByNonce(d: StripeDescriptor, shards: readonly MaybeShard[], keys: StripeKeys): OpenedStripe | undefined {
  const data = shards.slice(0, d.k);
  if (!data.every((s, i) => s != null && framed(d, s, i))) return undefined;
  const bodyBytes = shardBytes(d.paddedLength, d.k) - SHARD_HEADER_BYTES;
  const nonceShards = Math.ceil(NONCE_BYTES / bodyBytes);
  for (let i = 0; i < nonceShards; i++) if (shardId(data[i]!) !== d.shardIds[i]) return undefined;
  try {
    return { block: decrypt(d, data.map((s) => s!.subarray(SHARD_HEADER_BYTES)), keys), bad: [] };
  } catch (err) {
    if (err instanceof AuthenticationError) return undefined;
    throw err;
  }
}

/**
 * The block back from any k good shards (slot i holds shard i, or nothing).
 * A shard that fails its check is skipped and reported in `bad`. Throws
 * StripeUnrecoverableError with fewer than k good shards, and
 * AuthenticationError if the decoded ciphertext does not open under this
 * volume's key.
 */
export async function openStripe(
  descriptor: StripeDescriptor,
  shards: readonly MaybeShard[],
  keys: StripeKeys,
): Promise<OpenedStripe> {
  const direct = openByNonce(descriptor, shards, keys);
  if (direct) return direct;
  if (hashHelperEnabled()) {
    const fast = await openOptimistically(descriptor, shards, keys);
    if (fast) return fast;
  }
  return openCarefully(descriptor, shards, keys);
}
