import { InvalidPlacementInput } from './errors.js';
import type { ErasureCode, PlaceOptions, StoreInfo } from './types.js';

/** Shard indices are one byte wide in the codec (GF(2^8)). */
export const MAX_SHARDS = 256;

function fail(message: string): never {
  throw new InvalidPlacementInput(message);
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;

const name = (s: StoreInfo) => `store ${JSON.stringify(s.id)}`;

export function validate(
  key: string,
  stores: readonly StoreInfo[],
  code: ErasureCode,
  options: PlaceOptions,
): void {
  if (typeof key !== 'string') fail(`stripe key must be a string, got ${typeof key}`);
  if (code == null) fail('code must be given as { k, m }');
  const { k, m } = code;
  if (!Number.isInteger(k) || k < 1) fail(`k must be an integer >= 1, got ${String(k)}`);
  if (!Number.isInteger(m) || m < 0) fail(`m must be an integer >= 0, got ${String(m)}`);
  if (k + m > MAX_SHARDS) fail(`k+m must be at most ${MAX_SHARDS}, got ${k}+${m} = ${k + m}`);
  if (options == null) fail('options must be given as { shardSize }');
  const { shardSize } = options;
  if (typeof shardSize !== 'number' || !Number.isFinite(shardSize) || shardSize <= 0) {
    fail(`shardSize must be a positive number of bytes, got ${String(shardSize)}`);
  }
  const { minimumDegraded } = options;
  if (minimumDegraded !== undefined && (!Number.isInteger(minimumDegraded) || minimumDegraded < k || minimumDegraded > k + m)) {
    fail(`minimumDegraded must be an integer from k = ${k} to n = ${k + m}, got ${String(minimumDegraded)}`);
  }
  if (!Array.isArray(stores)) fail('stores must be an array of StoreInfo');

  const seen = new Set<string>();
  for (let i = 0; i < stores.length; i++) {
    const s = stores[i];
    if (s == null || typeof s.id !== 'string' || s.id === '') {
      fail(`store at position ${i} has no id (a non-empty string is required)`);
    }
    if (seen.has(s.id)) fail(`duplicate store id ${JSON.stringify(s.id)}: each store may be listed once`);
    seen.add(s.id);
    if (typeof s.zone !== 'string') fail(`${name(s)}: zone must be a string, got ${typeof s.zone}`);
    if (s.capacity !== null && !isCount(s.capacity)) {
      fail(`${name(s)}: capacity must be null or a finite number >= 0, got ${String(s.capacity)}`);
    }
    if (!isCount(s.used)) fail(`${name(s)}: used must be a finite number >= 0, got ${String(s.used)}`);
    if (typeof s.up !== 'boolean') fail(`${name(s)}: up must be a boolean, got ${typeof s.up}`);
  }
}
