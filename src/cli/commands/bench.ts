import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CryptoRow, benchCrypto } from '../../../bench/crypto/index.js';
import { type ErasureRow, benchErasure } from '../../../bench/erasure/index.js';
import { benchFuse } from '../../../bench/fuse/index.js';
import {
  DEFAULT_INPUTS,
  type DurabilityFlags,
  type DurabilityReport,
  LIVE_DEFAULTS,
  type Scheme,
  benchDurability,
  liveSchemes,
  liveSteps,
  parseDurabilityFlags,
  parseNumber,
  parseSeed,
  printLive,
  printReport,
  renderChart,
  runLive,
} from '../../../bench/durability/index.js';
import type { Comparison } from '../../../bench/harness.js';
import { type BucketPipelineResult, benchBucketPipeline } from '../../../bench/pipeline/bucket.js';
import { type PipelineRow, benchPipeline } from '../../../bench/pipeline/index.js';
import { type PeersPipelineResult, benchPeersPipeline } from '../../../bench/pipeline/peers.js';
import { UsageError } from '../../errors/index.js';
import { asFlag, parseCount, parseSize } from '../parse.js';
import { type Progress as ProgressBar, progressBar } from '../progress.js';
import { printTable } from '../table.js';
import { registerRouterBench } from './router.js';
import { commandGroup } from '../group.js';

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
  /** More flags, and another measurement they select; `run` returns false to leave the default one to run. */
  variant?: { options(command: Command): Command; run(raw: Record<string, unknown>, onProgress?: Progress): Promise<boolean> };
}

function addBench<Row extends Comparison>(parent: Command, spec: BenchSpec<Row>): void {
  const command = parent
    .command(spec.name)
    .description(spec.description)
    .option('--json', 'print one JSON object instead of a table')
    .option(`--${spec.sizeFlag.name} <size>`, spec.sizeFlag.help, asFlag(parseSize), spec.sizeFlag.default)
    .option('--rounds <n>', 'alternating measurement rounds per side (the median is reported)', asFlag(parseCount), 5);
  spec.variant?.options(command);
  command.action(async (raw: Record<string, unknown>) => {
    if (await spec.variant?.run(raw)) return;
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

function parsePipelineBackend(text: string): 'memory' | 'bucket' | 'peers' {
  if (text !== 'memory' && text !== 'bucket' && text !== 'peers') throw new UsageError(`--backend must be memory, bucket or peers, not "${text}"`);
  return text;
}

function printPeersPipeline(result: PeersPipelineResult, size: number): void {
  printTable(
    ['op', 'peers MB/s', 'local MB/s', 'ratio'],
    result.rows.map((r) => [r.op, r.peers_MBps.toFixed(1), r.local_MBps.toFixed(1), `${r.ratio.toFixed(2)}x`]),
  );
  const r = result.repair;
  process.stdout.write(
    `repair after killing a peer holding ${(r.lost_bytes / 2 ** 20).toFixed(0)} MiB: ${r.shards_rebuilt} shards rebuilt in ${r.seconds} s, ` +
      `${r.rebuilt_MBps.toFixed(1)} MB/s rebuilt (${r.moved_MBps.toFixed(1)} MB/s read + written)\n` +
      `volume: RS 4+2, 1 MiB blocks; 6 peer processes (cairn dev up) vs the local backend; dd of ${size} bytes ending in fsync, cold read through a fresh mount; medians\n`,
  );
}

function printBucketPipeline(result: BucketPipelineResult, size: number): void {
  printTable(
    ['system', 'mode', 'write returned MB/s', 'in bucket MB/s', 'returned s', 'in bucket s', 'acked before stored', 'read MB/s'],
    result.rows.map((r) => [
      r.system,
      r.mode,
      r.write_returned_MBps.toFixed(1),
      r.in_bucket_MBps.toFixed(1),
      r.write_returned_s.toFixed(2),
      r.in_bucket_s.toFixed(2),
      r.acknowledged_before_stored ? 'YES' : 'no',
      r.read_MBps.toFixed(1),
    ]),
  );
  for (const r of result.ratios) {
    process.stdout.write(`cairn vs rclone crypt ${r.mode}: data in the bucket ${r.in_bucket.toFixed(2)}x as fast, cold reads ${r.read.toFixed(2)}x\n`);
  }
  const early = result.rows.filter((r) => r.acknowledged_before_stored).map((r) => `${r.system} ${r.mode}`);
  if (early.length > 0) {
    process.stdout.write(`acknowledged before the data was in the bucket: ${early.join('; ')} (write and fsync returned once the data was in a local cache)\n`);
  }
  process.stdout.write(`s3rver on 127.0.0.1; dd of ${size} bytes ending in fsync, then a cold read through a fresh mount; medians\n`);
}

export function registerBench(program: Command): void {
  const bench = commandGroup(program, 'bench', 'measure Cairn against named baselines, side by side in one run');

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
    variant: {
      options: (command) =>
        command
          .option(
            '--backend <backend>',
            'memory: seal and open in memory (the default); bucket: a mounted volume on an S3 bucket (s3rver) vs rclone crypt over the same bucket; peers: a mounted volume on 6 local peers vs the local backend, then repair',
            asFlag(parsePipelineBackend),
            'memory',
          )
          .option('--size <size>', 'with --backend bucket or peers: bytes written per round (default 64MiB for bucket, 1GiB for peers)', asFlag(parseSize)),
      run: async (raw) => {
        if (raw.backend === 'peers') {
          const size = (raw.size as number | undefined) ?? 2 ** 30;
          const progress = progressBar();
          const json = raw.json === true;
          const result = await benchPeersPipeline({ size, rounds: raw.rounds as number, onProgress: json ? undefined : progress.update });
          progress.end();
          if (json) process.stdout.write(`${JSON.stringify({ bench: 'pipeline', backend: 'peers', size, ...result })}\n`);
          else printPeersPipeline(result, size);
          return true;
        }
        if (raw.backend !== 'bucket') return false;
        raw.size ??= 64 * 2 ** 20;
        const progress = progressBar();
        const json = raw.json === true;
        const result = await benchBucketPipeline({
          size: raw.size as number,
          rounds: raw.rounds as number,
          blockSize: raw.blockSize as number,
          onProgress: json ? undefined : progress.update,
        });
        progress.end();
        if (json) process.stdout.write(`${JSON.stringify({ bench: 'pipeline', backend: 'bucket', size: raw.size, ...result })}\n`);
        else printBucketPipeline(result, raw.size as number);
        return true;
      },
    },
  });

  addDurabilityBench(bench);

  registerRouterBench(bench);
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

/** Models and a simulation, not a throughput comparison, so it has its own flags and output. */
function addDurabilityBench(parent: Command): void {
  const d = DEFAULT_INPUTS;
  const number = asFlag((t) => parseNumber(t));
  parent
    .command('durability')
    .description(
      'annual probability of losing data per redundancy scheme: Backblaze period model, Markov chain and a seeded simulation; ' +
        'overhead, repair traffic, an SVG chart, and the cheapest scheme reaching --target-nines',
    )
    .option(
      '--scheme <scheme>',
      `K+M code or Nx replication; repeat for several (default: ${d.schemes.join(' ')})`,
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option('--afr <rate>', 'annual failure rate of one peer (failures per peer-year)', number, d.afr)
    .option('--repair-hours <hours>', "time to restore one failed peer's shards", number, d.repairHours)
    .option('--peers <n>', 'peers in the cluster', asFlag(parseCount), d.peers)
    .option('--zones <n>', 'zones the peers are spread over (a stripe keeps at most its share in one)', asFlag(parseCount), d.zones)
    .option(
      '--zone-failure-rate <rate>',
      'whole-zone losses per zone per year (simulation only)',
      asFlag((t) => parseNumber(t, { zero: true })),
      d.zoneFailureRate,
    )
    .option('--volume-size <size>', 'bytes of data in the volume', asFlag(parseSize), d.volumeSize)
    .option('--block-size <size>', 'data bytes per stripe (the volume block size)', asFlag(parseSize), d.blockSize)
    .option('--trials <n>', 'simulated years per scheme', asFlag(parseCount), d.trials)
    .option('--seed <n>', 'simulation seed (same seed, same output)', asFlag(parseSeed), d.seed)
    .option('--target-nines <n>', 'nines of annual durability the answer line asks for', number, d.targetNines)
    .option('--chart <path>', 'where to write the SVG chart', d.chart)
    .option('--live', 'also inject faults into real peer processes (kill, corrupt, stall, restart) for each scheme that fits, and read every byte back')
    .option('--live-peers <n>', `with --live: peer processes in the cluster (default ${LIVE_DEFAULTS.peers}); a scheme runs live if n + m <= this`, asFlag(parseCount))
    .option('--live-size <size>', `with --live: bytes of data written and verified per scheme (default ${LIVE_DEFAULTS.size / 2 ** 20}MiB)`, asFlag(parseSize))
    .option('--beyond-m', 'with --live: one more event kills m + 1 peers at once, to show what is unreadable until they return')
    .option('--json', 'print one JSON object instead of a table')
    .action(async ({ chart, json, live, livePeers, liveSize, beyondM, ...flags }: DurabilityFlags & LiveFlags & { chart: string; json?: boolean }) => {
      const inputs = parseDurabilityFlags(flags);
      if (!live && (livePeers !== undefined || liveSize !== undefined || beyondM)) {
        throw new UsageError('--live-peers, --live-size and --beyond-m only apply to a live run: add --live');
      }
      const peers = livePeers ?? LIVE_DEFAULTS.peers;
      const fitting = live ? liveSchemes(inputs.schemes, peers) : undefined;
      const progress = progressBar();
      const report = benchDurability(inputs, json ? undefined : progress.update);
      if (fitting) {
        report.live = { peers, size: liveSize ?? LIVE_DEFAULTS.size, beyond_m: beyondM === true, schemes: fitting.run.map((s) => s.label), not_run: fitting.notRun };
        const finished = await runLiveSchemes(report, fitting.run, inputs.seed, json ? undefined : progress);
        if (!finished) return;
      }
      progress.end();
      try {
        writeFileSync(chart, renderChart(report));
      } catch (err) {
        throw new UsageError(`cannot write the chart to ${chart} (${(err as Error).message}); give --chart a writable path`);
      }
      if (json) process.stdout.write(`${JSON.stringify({ ...report, chart })}\n`);
      else {
        printReport(report, chart);
        printLive(report);
      }
      const broken = liveBroken(report);
      if (broken.length > 0) {
        process.stderr.write(broken.map((b) => `cairn: ${b}\n`).join(''));
        process.exitCode = 1;
      }
    });
}

interface LiveFlags {
  live?: boolean;
  livePeers?: number;
  liveSize?: number;
  beyondM?: boolean;
}

/**
 * Runs each scheme live in turn, filling its row. A Ctrl-C (or SIGTERM)
 * stops the run in order: its processes, mounts and temp directory are
 * removed before this returns false.
 */
async function runLiveSchemes(report: DurabilityReport, schemes: Scheme[], seed: number, progress?: ProgressBar): Promise<boolean> {
  const live = report.live!;
  const controller = new AbortController();
  const interrupt = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) process.stderr.write(`\n${signal}: stopping the live run's processes and mounts\n`);
    controller.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const total = schemes.length * liveSteps(live.beyond_m);
  let done = 0;
  try {
    for (const scheme of schemes) {
      const row = report.results.find((r) => r.scheme === scheme.label)!;
      row.live = await runLive(scheme, {
        peers: live.peers,
        size: live.size,
        beyondM: live.beyond_m,
        seed,
        signal: controller.signal,
        onProgress: (label) => progress?.update(done++, total, label),
      });
    }
    return true;
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    progress?.end();
    process.stderr.write('cairn: interrupted; every process and mount of the live run is stopped and its temp directory removed\n');
    process.exitCode = 130;
    return false;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

/** Promises a live run broke: data lost within what the code tolerates at the end, or redundancy not restored. */
function liveBroken(report: DurabilityReport): string[] {
  return report.results.flatMap((r) => {
    if (!r.live) return [];
    const out: string[] = [];
    if (r.live.bytes_lost > 0) out.push(`${r.scheme}: ${r.live.bytes_lost} bytes LOST after the live run (${r.live.bytes_wrong} read back wrong)`);
    for (const e of r.live.events) {
      if (e.seconds_to_full_redundancy === null) out.push(`${r.scheme}: "${e.event}" did not get back to full redundancy: ${e.note ?? ''}`);
      if (e.bytes_wrong) out.push(`${r.scheme}: "${e.event}" read ${e.bytes_wrong} bytes WRONG`);
    }
    return out;
  });
}
