/**
 * `cairn bench erasure`: encode and reconstruct throughput (MB/s of data
 * shards) of our codec against the reed-solomon-erasure wasm build, both
 * used the fastest way their APIs allow (buffers allocated once, outputs
 * written in place).
 */
import { randomFillSync } from 'node:crypto';
import { ReedSolomon } from '../../erasure/index.js';
import { type CompareOptions, type Comparison, compare } from '../harness.js';
import { checkReference, referenceCodec } from './reference.js';

export const ERASURE_CODES: readonly (readonly [number, number])[] = [
  [4, 2],
  [6, 3],
  [10, 4],
];

export interface ErasureRow extends Comparison {
  code: string;
  op: 'encode' | 'reconstruct';
}

export interface ErasureBenchOptions extends CompareOptions {
  shardSize?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export async function benchErasure(options: ErasureBenchOptions = {}): Promise<ErasureRow[]> {
  const size = options.shardSize ?? 1 << 20;
  const rows: ErasureRow[] = [];
  const total = ERASURE_CODES.length * 2;
  const ref = referenceCodec();
  for (const [k, m] of ERASURE_CODES) {
    const code = `${k}+${m}`;
    const rs = new ReedSolomon(k, m);
    const bytes = k * size;

    const contiguous = new Uint8Array((k + m) * size);
    randomFillSync(contiguous.subarray(0, bytes));
    const shards = Array.from({ length: k + m }, (_, i) => contiguous.subarray(i * size, (i + 1) * size));
    const data = shards.slice(0, k);
    const parity = rs.encode(data);
    const refAll = contiguous.slice();

    options.onProgress?.(rows.length, total, `${code} encode`);
    const encode = await compare(
      { run: () => rs.encode(data, parity), bytes },
      { run: () => checkReference(ref.encode(refAll, k, m)), bytes },
      options,
    );
    rows.push({ code, op: 'encode', ...encode });

    // m data shards lost, rebuilt in place from the rest.
    const original = contiguous.slice(0, bytes);
    shards.slice(k).forEach((s, i) => {
      s.set(parity[i]);
    });
    const lost = Array.from({ length: m }, (_, i) => i);
    const available = shards.map((_, i) => i >= m);
    options.onProgress?.(rows.length, total, `${code} reconstruct`);
    const reconstruct = await compare(
      { run: () => rs.reconstruct(shards, { lost, dataOnly: true }), bytes },
      { run: () => checkReference(ref.reconstruct(refAll, k, m, available)), bytes },
      options,
    );
    // A fast wrong answer is no answer: wipe the lost shards, rebuild once more, compare.
    contiguous.fill(0, 0, m * size);
    refAll.fill(0, 0, m * size);
    rs.reconstruct(shards, { lost, dataOnly: true });
    checkReference(ref.reconstruct(refAll, k, m, available));
    if (Buffer.compare(contiguous.subarray(0, bytes), original) !== 0) {
      throw new Error(`our ${code} reconstruct produced wrong bytes`);
    }
    if (Buffer.compare(refAll.subarray(0, bytes), original) !== 0) {
      throw new Error(`reference ${code} reconstruct produced wrong bytes`);
    }
    rows.push({ code, op: 'reconstruct', ...reconstruct });
  }
  options.onProgress?.(total, total, 'done');
  return rows;
}
