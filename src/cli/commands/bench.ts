import type { Command } from 'commander';
import { benchErasure, type ErasureRow } from '../../../bench/erasure/index.js';
import { asFlag, parseCount, parseSize } from '../parse.js';
import { progressBar } from '../progress.js';
import { printTable } from '../table.js';

interface ErasureFlags {
  json?: boolean;
  shardSize: number;
  rounds: number;
}

export function registerBench(program: Command): void {
  const bench = program
    .command('bench')
    .description('measure Cairn against named baselines, side by side in one run')
    .action(() => {
      bench.help({ error: true });
    });

  bench
    .command('erasure')
    .description('Reed-Solomon encode/reconstruct MB/s: ours vs the reed-solomon-erasure wasm build')
    .option('--json', 'print one JSON object instead of a table')
    .option('--shard-size <size>', 'bytes per shard', asFlag(parseSize), 1 << 20)
    .option('--rounds <n>', 'alternating measurement rounds per side (median is reported)', asFlag(parseCount), 5)
    .action(async (flags: ErasureFlags) => {
      const progress = progressBar();
      const results = await benchErasure({
        shardSize: flags.shardSize,
        rounds: flags.rounds,
        onProgress: flags.json ? undefined : (done, total, label) => progress.update(done, total, label),
      });
      progress.end();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ bench: 'erasure', shard_size: flags.shardSize, results })}\n`);
        return;
      }
      printTable(
        ['code', 'op', 'ours MB/s', 'reference MB/s', 'ratio'],
        results.map((r: ErasureRow) => [
          r.code,
          r.op,
          r.ours_MBps.toFixed(0),
          r.reference_MBps.toFixed(0),
          `${r.ratio.toFixed(2)}x`,
        ]),
      );
      process.stdout.write(
        `reference: @digitaldefiance/reed-solomon-erasure.wasm; shards of ${flags.shardSize} bytes\n`,
      );
    });
}
