/**
 * `cairn bench fuse`: the same workloads through a mounted volume (RS 4+2,
 * local backend), on the plain local disk, and on a no-op FUSE filesystem
 * (the ceiling of the binding): sequential write ending with fsync,
 * sequential read with cold caches, and 4 KiB random read and write with fio
 * when it is installed. Each runs in its own processes (dd, fio) against
 * mounts served by other processes, as an application would see them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../src/repo/index.js';

export type FuseOp = 'seq-write' | 'seq-read' | 'rand-read-4k' | 'rand-write-4k';

export interface FuseRow {
  op: FuseOp;
  unit: 'MB/s' | 'IOPS';
  cairn: number;
  noop_fuse: number;
  local_disk: number;
  /** cairn / no-op FUSE: how much of the binding's ceiling we reach. */
  ratio_vs_noop: number;
  /** cairn / local disk. */
  ratio_vs_disk: number;
}

export interface FuseBenchOptions {
  /** Bytes for the sequential workloads; default 1 GiB. */
  size?: number;
  /** Seconds per fio run; 0 skips fio. */
  fioSeconds?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

type Target = 'cairn' | 'noop_fuse' | 'local_disk';
const TARGETS: Target[] = ['cairn', 'noop_fuse', 'local_disk'];

interface Served {
  dir: string;
  stop(): Promise<void>;
}

function serve(command: string[], dir: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<Served> {
  const child: ChildProcess = spawn(process.execPath, command, {
    cwd: repoRoot(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    // A bounded wait; the timer must not keep this process alive once the child is gone.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 60_000).unref())]);
    spawnSync('fusermount', ['-uz', dir]);
  };
  return new Promise((resolve, reject) => {
    const check = (d: Buffer) => {
      out += d;
      if (ready.test(out)) resolve({ dir, stop });
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    void exited.then(() => reject(new Error(`mount for the benchmark failed: ${out.trim()}`)));
  });
}

function timed(command: string, args: string[]): number {
  const start = performance.now();
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.stderr}`);
  return (performance.now() - start) / 1000;
}

function dropCaches(): void {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    // Not root or not allowed: reads may be warmer than intended; the ratios still compare like with like.
  }
}

const fioPresent = () => spawnSync('fio', ['--version']).status === 0;

function fio(file: string, rw: 'randread' | 'randwrite', seconds: number, bytes: number): number {
  const r = spawnSync(
    'fio',
    [
      '--name=bench',
      `--filename=${file}`,
      `--size=${bytes}`,
      '--bs=4k',
      `--rw=${rw}`,
      '--ioengine=psync',
      `--runtime=${seconds}`,
      '--time_based',
      '--output-format=json',
      ...(rw === 'randwrite' ? ['--end_fsync=1'] : []),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`fio failed: ${r.stderr}`);
  const job = (JSON.parse(r.stdout) as { jobs: { read: { iops: number }; write: { iops: number } }[] }).jobs[0];
  return Math.round(rw === 'randread' ? job.read.iops : job.write.iops);
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : 0);

export async function benchFuse(options: FuseBenchOptions = {}): Promise<FuseRow[]> {
  const size = options.size ?? 2 ** 30;
  const mib = Math.max(1, Math.round(size / 2 ** 20));
  const fioSeconds = options.fioSeconds ?? 5;
  const withFio = fioSeconds > 0 && fioPresent();
  // The random-I/O file: 64 MiB, or the sequential size when that is smaller.
  const fioBytes = Math.min(64 * 2 ** 20, mib * 2 ** 20);
  const root = mkdtempSync(join(tmpdir(), 'cairn-bench-fuse-'));
  const env = {
    CAIRN_HOME: join(root, 'home'),
    CAIRN_STORES: join(root, 'stores'),
    // Random per run: a benchmark volume, never printed.
    CAIRN_PASSPHRASE: randomBytes(16).toString('hex'),
  };
  const cli = join(repoRoot(), 'bin', 'cairn.js');
  const served: Served[] = [];
  const steps = withFio ? 4 : 2;
  let done = 0;
  const progress = (label: string) => options.onProgress?.(done++, steps, label);
  try {
    for (const args of [['init', '--kdf-memory', '8MiB', '--kdf-passes', '1'], ['volume', 'create', 'bench']]) {
      const r = spawnSync(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cairn ${args[0]} failed: ${r.stderr}`);
    }
    const dirs: Record<Target, string> = {
      cairn: join(root, 'cairn'),
      noop_fuse: join(root, 'noop'),
      local_disk: join(root, 'disk'),
    };
    for (const d of Object.values(dirs)) mkdirSync(d);
    const mountCairn = () => serve([cli, 'mount', 'bench', dirs.cairn], dirs.cairn, env, /mounted bench/);
    let cairn = await mountCairn();
    served.push(cairn);
    served.push(await serve([join(repoRoot(), 'dist', 'fuse', 'serve-noop.js'), dirs.noop_fuse], dirs.noop_fuse, {}, /"mounted"/));

    const results = new Map<FuseOp, Record<Target, number>>();
    const measure = (op: FuseOp, f: (t: Target) => number) => {
      const row = {} as Record<Target, number>;
      for (const t of TARGETS) row[t] = f(t);
      results.set(op, row);
    };

    progress('sequential write');
    measure('seq-write', (t) => {
      // The previous target's writeback and page cache must not land on this one's clock.
      dropCaches();
      const secs = timed('dd', ['if=/dev/zero', `of=${join(dirs[t], 'seq')}`, 'bs=1M', `count=${mib}`, 'conv=fsync', 'status=none']);
      return round1((mib * 2 ** 20) / secs / 1e6);
    });

    progress('sequential read (cold)');
    // A fresh mount has an empty block cache; drop the kernel's page cache too.
    await cairn.stop();
    served.splice(served.indexOf(cairn), 1);
    cairn = await mountCairn();
    served.push(cairn);
    measure('seq-read', (t) => {
      dropCaches();
      const secs = timed('dd', [`if=${join(dirs[t], 'seq')}`, 'of=/dev/null', 'bs=1M', 'status=none']);
      return round1((mib * 2 ** 20) / secs / 1e6);
    });

    if (withFio) {
      progress('4 KiB random write (fio)');
      measure('rand-write-4k', (t) => {
        dropCaches();
        return fio(join(dirs[t], 'fio'), 'randwrite', fioSeconds, fioBytes);
      });
      progress('4 KiB random read (fio)');
      measure('rand-read-4k', (t) => fio(join(dirs[t], 'fio'), 'randread', fioSeconds, fioBytes));
    }
    options.onProgress?.(steps, steps, 'done');
    return [...results].map(([op, r]) => ({
      op,
      unit: op.startsWith('seq') ? 'MB/s' : 'IOPS',
      ...r,
      ratio_vs_noop: ratio(r.cairn, r.noop_fuse),
      ratio_vs_disk: ratio(r.cairn, r.local_disk),
    }));
  } finally {
    for (const s of served.reverse()) await s.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
