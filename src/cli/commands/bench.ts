import type { Command } from 'commander';
import { type CryptoRow, benchCrypto } from '../../../bench/crypto/index.js';
import { type ErasureRow, benchErasure } from '../../../bench/erasure/index.js';
import { benchFuse } from '../../../bench/fuse/index.js';
import type { Comparison } from '../../../bench/harness.js';
import { type PipelineRow, benchPipeline } from '../../../bench/pipeline/index.js';
import { asFlag, parseCount, parseSize } from '../parse.js';
import { progressBar } from '../progress.js';
import { printTable } from '../table.js';

type Progress = (done: number, total: number, label: string) => void;

interface Flags {
  json?: boolean;
  size: number;
  rounds: number;
}

/** One comparative benchmark: ours against a named baseline, rows of MB/s and ratio. */
interface BenchSpec<Row extends Comparison> {
  name: string;
  description: string;
  sizeFlag: { name: string; help: string; default: number };
  /** Columns that name a row (before the figures). */
  labels: string[];
  label(row: Row): string[];
  run(flags: Flags, onProgress?: Progress): Promise<Row[]>;
  baseline: string;
}

function addBench<Row extends Comparison>(parent: Command, spec: BenchSpec<Row>): void {
  parent
    .command(spec.name)
    .description(spec.description)
    .option('--json', 'print one JSON object instead of a table')
    .option(`--${spec.sizeFlag.name} <size>`, spec.sizeFlag.help, asFlag(parseSize), spec.sizeFlag.default)
    .option('--rounds <n>', 'alternating measurement rounds per side (the median is reported)', asFlag(parseCount), 5)
    .action(async (raw: Record<string, unknown>) => {
      const flags: Flags = {
        json: raw.json as boolean | undefined,
        rounds: raw.rounds as number,
        size: raw[spec.sizeFlag.name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] as number,
      };
      const progress = progressBar();
      const results = await spec.run(flags, flags.json ? undefined : progress.update);
      progress.end();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ bench: spec.name, size: flags.size, results })}\n`);
        return;
      }
      printTable(
        [...spec.labels, 'ours MB/s', 'reference MB/s', 'ratio'],
        results.map((r) => [
          ...spec.label(r),
          r.ours_MBps.toFixed(0),
          r.reference_MBps.toFixed(0),
          `${r.ratio.toFixed(2)}x`,
        ]),
      );
      process.stdout.write(`reference: ${spec.baseline}; ${spec.sizeFlag.name} ${flags.size} bytes\n`);
    });
}

export function registerBench(program: Command): void {
  const bench = program
    .command('bench')
    .description('measure Cairn against named baselines, side by side in one run')
    .action(() => {
      bench.help({ error: true });
    });

  addBench<ErasureRow>(bench, {
    name: 'erasure',
    description: 'Reed-Solomon encode/reconstruct MB/s: ours vs the reed-solomon-erasure wasm build',
    sizeFlag: { name: 'shard-size', help: 'bytes per shard', default: 1 << 20 },
    labels: ['code', 'op'],
    label: (r) => [r.code, r.op],
    run: (f, onProgress) => benchErasure({ shardSize: f.size, rounds: f.rounds, onProgress }),
    baseline: '@digitaldefiance/reed-solomon-erasure.wasm',
  });
  addBench<CryptoRow>(bench, {
    name: 'crypto',
    description: 'XChaCha20-Poly1305 seal/open MB/s: ours vs libsodium-wrappers',
    sizeFlag: { name: 'message-size', help: 'bytes per message', default: 4 << 20 },
    labels: ['op'],
    label: (r) => [r.op],
    run: (f, onProgress) => benchCrypto({ messageSize: f.size, rounds: f.rounds, onProgress }),
    baseline: 'libsodium-wrappers',
  });
  addBench<PipelineRow>(bench, {
    name: 'pipeline',
    description: 'seal (encrypt, RS(4,2), hash) and open of a block in memory: ours vs the named packages as-is',
    sizeFlag: { name: 'block-size', help: 'bytes per block', default: 4 << 20 },
    labels: ['op', 'mode', 'in flight'],
    label: (r) => [r.op, r.mode, String(r.concurrency)],
    run: (f, onProgress) => benchPipeline({ blockSize: f.size, rounds: f.rounds, onProgress }),
    baseline: 'libsodium-wrappers + reed-solomon-erasure wasm + the same SHA-256',
  });

  bench
    .command('fuse')
    .description('through a mounted volume vs the local disk and a no-op FUSE filesystem: MB/s, IOPS, ratios')
    .option('--json', 'print one JSON object instead of a table')
    .option('--size <size>', 'bytes for the sequential workloads', asFlag(parseSize), 2 ** 30)
    .option('--fio-seconds <n>', 'seconds per fio run (random 4 KiB I/O; skipped when fio is missing)', asFlag(parseCount), 5)
    .action(async (flags: { json?: boolean; size: number; fioSeconds: number }) => {
      const progress = progressBar();
      const results = await benchFuse({
        size: flags.size,
        fioSeconds: flags.fioSeconds,
        onProgress: flags.json ? undefined : progress.update,
      });
      progress.end();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ bench: 'fuse', size: flags.size, results })}\n`);
        return;
      }
      printTable(
        ['op', 'unit', 'cairn', 'no-op FUSE', 'local disk', 'vs no-op', 'vs disk'],
        results.map((r) => [
          r.op,
          r.unit,
          r.cairn.toFixed(0),
          r.noop_fuse.toFixed(0),
          r.local_disk.toFixed(0),
          `${r.ratio_vs_noop.toFixed(2)}x`,
          `${r.ratio_vs_disk.toFixed(2)}x`,
        ]),
      );
      process.stdout.write(`volume: RS 4+2, 1 MiB blocks, local backend; ${flags.size} bytes sequential\n`);
    });
}
