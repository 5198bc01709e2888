/**
 * `cairn bench pipeline`: a 4 MiB block sealed into RS(4,2) shards and
 * opened again, in memory: ours against the same format built from
 * libsodium-wrappers + the reference reed-solomon-erasure wasm + the same
 * hashing (./reference.ts). "open" has every shard; "open-degraded" has lost
 * m data shards and must decode.
 */
import { randomBytes } from 'node:crypto';
import { newKey } from '../../src/crypto/index.js';
import { BlockKind, type SealOptions, openStripe, sealStripe } from '../../src/stripe/index.js';
import { type CompareOptions, type Comparison, compare } from '../harness.js';
import { baselineOpen, baselineReady, baselineSeal } from './reference.js';

export interface PipelineRow extends Comparison {
  op: 'seal' | 'open' | 'open-degraded';
}

export interface PipelineBenchOptions extends CompareOptions {
  blockSize?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export async function benchPipeline(options: PipelineBenchOptions = {}): Promise<PipelineRow[]> {
  await baselineReady();
  const size = options.blockSize ?? 4 * 2 ** 20;
  const o: SealOptions = { volumeId: randomBytes(16), key: newKey(), kind: BlockKind.Data, k: 4, m: 2 };
  const block = randomBytes(size);
  const ours = sealStripe(block, o);
  const theirs = baselineSeal(block, o);
  const degraded = (shards: readonly Uint8Array[]) => shards.map((s, i) => (i < o.m ? null : s));

  const rows: PipelineRow[] = [];
  const run = async (op: PipelineRow['op'], a: () => unknown, b: () => unknown) => {
    options.onProgress?.(rows.length, 3, op);
    rows.push({ op, ...(await compare(a, b, size, options)) });
  };
  await run(
    'seal',
    () => sealStripe(block, o),
    () => baselineSeal(block, o),
  );
  await run(
    'open',
    () => openStripe(ours.descriptor, ours.shards, o),
    () => baselineOpen(theirs.descriptor, theirs.shards, o),
  );
  const oursDegraded = degraded(ours.shards);
  const theirsDegraded = degraded(theirs.shards);
  await run(
    'open-degraded',
    () => openStripe(ours.descriptor, oursDegraded, o),
    () => baselineOpen(theirs.descriptor, theirsDegraded, o),
  );
  // Both must really have opened the block.
  if (Buffer.compare(openStripe(ours.descriptor, oursDegraded, o).block, block) !== 0) {
    throw new Error('our pipeline returned wrong bytes');
  }
  if (Buffer.compare(baselineOpen(theirs.descriptor, theirsDegraded, o), block) !== 0) {
    throw new Error('the baseline pipeline returned wrong bytes');
  }
  options.onProgress?.(3, 3, 'done');
  return rows;
}
