/**
 * The published reed-solomon-erasure WebAssembly build, the yardstick in two
 * places: tests check our parity against it byte for byte, and
 * `cairn bench erasure` measures our speed against it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ReedSolomonErasure } from '@digitaldefiance/reed-solomon-erasure.wasm';

let instance: ReedSolomonErasure | undefined;

export function referenceCodec(): ReedSolomonErasure {
  if (!instance) {
    const require = createRequire(import.meta.url);
    const main = require.resolve('@digitaldefiance/reed-solomon-erasure.wasm');
    instance = ReedSolomonErasure.fromBytes(readFileSync(new URL('reed_solomon_erasure_bg.wasm', `file://${main}`)));
  }
  return instance;
}

export function checkReference(code: number): void {
  if (code !== ReedSolomonErasure.RESULT_OK) {
    throw new Error(`reference codec: ${ReedSolomonErasure.getResultMessage(code)}`);
  }
}

/** Its API takes all n shards in one contiguous buffer. */
function pack(shards: readonly (Uint8Array | null | undefined)[], length: number): Uint8Array {
  const all = new Uint8Array(length * shards.length);
  shards.forEach((s, i) => {
    if (s) all.set(s, i * length);
  });
  return all;
}

function unpack(all: Uint8Array, count: number, length: number, first = 0): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => all.subarray((first + i) * length, (first + i + 1) * length));
}

/** m parity shards for k data shards. */
export function referenceEncode(data: readonly Uint8Array[], m: number): Uint8Array[] {
  const length = data[0].length;
  const all = pack([...data, ...new Array<undefined>(m)], length);
  checkReference(referenceCodec().encode(all, data.length, m));
  return unpack(all, m, length, data.length);
}

/** The k data shards, rebuilt from the present entries of n shard slots. */
export function referenceReconstruct(shards: readonly (Uint8Array | null | undefined)[], k: number): Uint8Array[] {
  const length = (shards.find((s) => s) as Uint8Array).length;
  const all = pack(shards, length);
  checkReference(
    referenceCodec().reconstruct(
      all,
      k,
      shards.length - k,
      shards.map((s) => s != null),
    ),
  );
  return unpack(all, k, length);
}
