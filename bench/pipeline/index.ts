/**
 * `cairn bench pipeline`: blocks sealed into RS(4,2) shards and opened again,
 * in memory: ours against the same format built from libsodium-wrappers +
 * the reference reed-solomon-erasure wasm + the same hashing
 * (./reference.ts), which runs on one thread as those packages do.
 *
 * Each op is measured twice for ours: one block at a time from the calling
 * thread (mode "call": the hash helper thread takes the SHA-256 work), and
 * through the StripeEngine's worker pool with one block in flight per worker
 * (mode "pool"), which is how a volume flushing many blocks uses it. "open" has every shard;
 * "open-degraded" has lost m data shards and must decode.
 */
import { randomBytes } from 'node:crypto';
import { newKey } from '../../src/crypto/index.js';
import { BlockKind, type SealOptions, StripeEngine, openStripe, sealStripe } from '../../src/stripe/index.js';
import { type CompareOptions, type Comparison, type Side, compare } from '../harness.js';
import { baselineOpen, baselineReady, baselineSeal } from './reference.js';

export interface PipelineRow extends Comparison {
  op: 'seal' | 'open' | 'open-degraded';
  mode: 'call' | 'pool';
  /** Blocks in flight at once. */
  concurrency: number;
}

export interface PipelineBenchOptions extends CompareOptions {
  blockSize?: number;
  /** Worker threads for the pooled rows; default one per core. */
  threads?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

export async function benchPipeline(options: PipelineBenchOptions = {}): Promise<PipelineRow[]> {
  await baselineReady();
  const size = options.blockSize ?? 4 * 2 ** 20;
  const engine = new StripeEngine(options.threads);
  const n = engine.threads;
  const o: SealOptions = { volumeId: randomBytes(16), key: newKey(), kind: BlockKind.Data, k: 4, m: 2 };
  const block = randomBytes(size);
  const ours = await sealStripe(block, o);
  const theirs = baselineSeal(block, o);
  const lose = (shards: readonly Uint8Array[]) => shards.map((s, i) => (i < o.m ? null : s));
  const oursDegraded = lose(ours.shards);
  const theirsDegraded = lose(theirs.shards);

  const pooled = (one: () => Promise<unknown>): Side => ({
    run: () => Promise.all(Array.from({ length: n }, one)),
    bytes: n * size,
  });
  const plans: [PipelineRow['op'], () => Promise<unknown>, () => Promise<unknown>, () => unknown][] = [
    [
      'seal',
      // Sealed shards are stored and released, as a volume does; the baseline just drops its own.
      async () => (await sealStripe(block, o)).release(),
      () => engine.seal(block, o),
      () => baselineSeal(block, o),
    ],
    [
      'open',
      () => openStripe(ours.descriptor, ours.shards, o),
      () => engine.open(ours.descriptor, ours.shards, o),
      () => baselineOpen(theirs.descriptor, theirs.shards, o),
    ],
    [
      'open-degraded',
      () => openStripe(ours.descriptor, oursDegraded, o),
      () => engine.open(ours.descriptor, oursDegraded, o),
      () => baselineOpen(theirs.descriptor, theirsDegraded, o),
    ],
  ];
  const rows: PipelineRow[] = [];
  const total = plans.length * 2;
  try {
    for (const [op, direct, viaPool, baseline] of plans) {
      const reference: Side = { run: baseline, bytes: size };
      options.onProgress?.(rows.length, total, `${op}, one at a time`);
      rows.push({ op, mode: 'call', concurrency: 1, ...(await compare({ run: direct, bytes: size }, reference, options)) });
      options.onProgress?.(rows.length, total, `${op}, ${n} workers`);
      rows.push({ op, mode: 'pool', concurrency: n, ...(await compare(pooled(viaPool), reference, options)) });
    }
    // Both must really have opened the block, through every path measured.
    const opened = [
      (await openStripe(ours.descriptor, oursDegraded, o)).block,
      (await engine.open(ours.descriptor, oursDegraded, o)).block,
      baselineOpen(theirs.descriptor, theirsDegraded, o),
    ];
    if (opened.some((b) => Buffer.compare(b, block) !== 0)) throw new Error('a pipeline returned wrong bytes');
  } finally {
    await engine.close();
  }
  options.onProgress?.(total, total, 'done');
  return rows;
}
