/**
 * `cairn bench pipeline --backend bucket`: a mounted Cairn volume on an S3
 * bucket (s3rver on 127.0.0.1 with atomic PUTs, one bucket, 1+0) against rclone mounting a
 * crypt remote over the same s3rver bucket, in the same run. For each: a
 * sequential write of one file with dd ending in fsync, timed twice, when
 * the write call returned and when the bucket held all of it (seen through
 * S3 listings polled meanwhile); then a cold sequential read through a fresh
 * mount. rclone runs in its three VFS cache modes, since they differ exactly
 * in when a write is acknowledged (docs/BUCKETS.md, "Benchmark").
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../../src/repo/index.js';
import { BucketObjects, S3Transport, type ListEntry } from '../../src/store/index.js';
import { S3rverProcess } from '../../test/bucket/s3rver.js';

export type BucketSystem = 'cairn' | 'rclone crypt';

export interface BucketPipelineRow {
  system: BucketSystem;
  /** How it was mounted: Cairn's code, or rclone's --vfs-cache-mode. */
  mode: string;
  /** Size / time until dd (write + fsync) returned. */
  write_returned_MBps: number;
  /** Size / time until a listing of the bucket showed every byte (listings run every 25 ms meanwhile). */
  in_bucket_MBps: number;
  write_returned_s: number;
  in_bucket_s: number;
  /** A listing begun after the write (and fsync) had returned still found data missing from the bucket. */
  acknowledged_before_stored: boolean;
  /** Cold sequential read through a fresh mount (page cache dropped, rclone's cache emptied). */
  read_MBps: number;
}

export interface BucketPipelineResult {
  rows: BucketPipelineRow[];
  /** Cairn's figure over each rclone mode's, for the time until the data is in the bucket, and for reads. */
  ratios: { mode: string; in_bucket: number; read: number }[];
}

export interface BucketPipelineOptions {
  /** Bytes written per round (default 64 MiB). */
  size?: number;
  /** Rounds per system; each row is the median. */
  rounds?: number;
  /** The volume's block size (default 4 MiB). */
  blockSize?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

const RCLONE_MODES = ['off', 'writes', 'full'] as const;
const POLL_MS = 25;
/** No write is waited for longer than this. */
const GIVE_UP_MS = 10 * 60_000;

const round1 = (x: number) => Math.round(x * 10) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** rclone crypt's object size for `size` bytes: a 32-byte header, then 16 bytes per 64 KiB block. */
const cryptSize = (size: number) => size + 32 + Math.ceil(size / 65536) * 16;

/** The environment without AWS_* settings, which rclone and the SDK would otherwise pick up (a CA bundle, a profile). */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  return { ...env, ...extra };
}

function need(command: string, args: string[], hint: string): void {
  if (spawnSync(command, args, { stdio: 'ignore' }).status !== 0) throw new Error(`${command} is missing: ${hint}`);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, input?: string): string {
  const r = spawnSync(command, args, { env, encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`${command} ${args[0] ?? ''} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

const mounted = (dir: string) => readFileSync('/proc/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === dir);

interface Mounted {
  stop(): Promise<void>;
}

/** A foreground mount process, ready once `dir` is a mount point. */
async function mount(command: string, args: string[], env: NodeJS.ProcessEnv, dir: string): Promise<Mounted> {
  const child: ChildProcess = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d;
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(60_000, undefined, { ref: false })]);
    spawnSync('fusermount', ['-uz', dir]);
  };
  for (const deadline = Date.now() + 30_000; !mounted(dir); await sleep(50)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${command} mount did not come up: ${err.trim()}`);
    }
  }
  return { stop };
}

function dropCaches(): void {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    // Not root: reads may come partly from the page cache, for both sides alike.
  }
}

/**
 * Runs dd (write ending in fsync) while polling `stored`, and returns, in
 * seconds from the start: when dd returned; when a listing first showed all
 * the data (it was in the bucket by then); and when the last listing that
 * did not show it all began (it was not all there yet then).
 */
async function timedWrite(source: string, target: string, stored: () => Promise<boolean>): Promise<Timed> {
  const start = performance.now();
  const dd = spawn('dd', [`if=${source}`, `of=${target}`, 'bs=1M', 'conv=fsync', 'status=none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  dd.stderr?.on('data', (d: Buffer) => {
    err += d;
  });
  const returned = new Promise<number>((resolve, reject) =>
    dd.on('exit', (code) => (code === 0 ? resolve((performance.now() - start) / 1000) : reject(new Error(`dd failed: ${err.trim()}`)))),
  );
  const since = () => (performance.now() - start) / 1000;
  let inBucket: number | undefined;
  let lastMiss = 0;
  while (inBucket === undefined) {
    const asked = since();
    if (await stored()) inBucket = since();
    else if (asked * 1000 > GIVE_UP_MS) throw new Error(`the data of ${target} did not reach the bucket in ${GIVE_UP_MS / 60_000} minutes`);
    else {
      lastMiss = asked;
      await sleep(POLL_MS);
    }
  }
  return { returned: await returned, inBucket, lastMiss };
}

interface Timed {
  returned: number;
  inBucket: number;
  lastMiss: number;
}

function timedRead(path: string): number {
  dropCaches();
  const start = performance.now();
  run('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M', 'status=none'], process.env);
  return (performance.now() - start) / 1000;
}

export async function benchBucketPipeline(options: BucketPipelineOptions = {}): Promise<BucketPipelineResult> {
  const size = options.size ?? 64 * 2 ** 20;
  const rounds = options.rounds ?? 3;
  const blockSize = options.blockSize ?? 4 * 2 ** 20;
  need('rclone', ['version'], 'install the Debian package rclone (npm run setup does)');
  need('fusermount', ['-V'], 'install the Debian package fuse3 (npm run setup does)');

  const root = mkdtempSync(join(tmpdir(), 'cairn-bench-bucket-'));
  // Made up per run and passed through the environment and a 0600 file, never argv.
  const account = { accessKeyId: `BENCH${randomBytes(6).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('hex') };
  // Whole objects before answering, as S3 does: else "in the bucket" would be a guess for both sides.
  const server = await S3rverProcess.start({ buckets: ['bench'], accounts: [account], atomicPuts: true });
  const mounts: Mounted[] = [];
  const steps = 1 + RCLONE_MODES.length;
  let step = 0;
  const progress = (label: string) => options.onProgress?.(step++, steps, label);
  const transport = new S3Transport('bench', { endpoint: server.endpoint, region: 'us-east-1', bucket: 'bench', prefix: '', pathStyle: true }, account);
  const objects = new BucketObjects(transport);
  const listing = (under: string): Promise<ListEntry[]> => objects.listAll(under);
  try {
    const source = join(root, 'source.bin');
    writeFileSync(source, randomBytes(size));

    // ---- Cairn: a volume on the bucket (1+0), mounted ----
    progress('cairn on the bucket');
    const cli = join(repoRoot(), 'bin', 'cairn.js');
    const cairnEnv = cleanEnv({
      CAIRN_HOME: join(root, 'home'),
      CAIRN_PASSPHRASE: randomBytes(16).toString('hex'),
      CAIRN_BENCH_AK: account.accessKeyId,
      CAIRN_BENCH_SK: account.secretAccessKey,
    });
    for (const args of [
      ['init', '--kdf-memory', '8MiB', '--kdf-passes', '1'],
      ['bucket', 'add', 'bench', '--endpoint', server.endpoint, '--bucket', 'bench', '--prefix', 'cairn', '--path-style', '--access-key-env', 'CAIRN_BENCH_AK', '--secret-key-env', 'CAIRN_BENCH_SK'],
      ['volume', 'create', 'bench', '--backend', 'bucket:bench', '--block-size', String(blockSize)],
    ]) {
      run(process.execPath, [cli, ...args], cairnEnv);
    }
    const cairnDir = join(root, 'cairn');
    mkdirSync(cairnDir);
    const mountCairn = () => mount(process.execPath, [cli, 'mount', 'bench', cairnDir], cairnEnv, cairnDir);
    const shardBytes = async () => (await listing('cairn/shards/')).reduce((sum, e) => sum + e.size, 0);
    const cairn = await measure(rounds, async (i) => {
      const m = await mountCairn();
      mounts.push(m);
      const base = await shardBytes();
      const write = await timedWrite(source, join(cairnDir, `r${i}`), async () => (await shardBytes()) - base >= size);
      await m.stop();
      const fresh = await mountCairn();
      mounts.push(fresh);
      const read = timedRead(join(cairnDir, `r${i}`));
      await fresh.stop();
      return { ...write, read };
    });
    const rows: BucketPipelineRow[] = [row('cairn', `bucket 1+0, ${blockSize / 2 ** 20} MiB blocks`, size, cairn)];

    // ---- rclone: a crypt remote over the same bucket ----
    const config = join(root, 'rclone.conf');
    const obscure = () => run('rclone', ['obscure', '-'], cleanEnv(), randomBytes(16).toString('hex')).trim();
    writeFileSync(
      config,
      [
        '[s3]',
        'type = s3',
        'provider = Other',
        `endpoint = ${server.endpoint}`,
        `access_key_id = ${account.accessKeyId}`,
        `secret_access_key = ${account.secretAccessKey}`,
        'region = us-east-1',
        'force_path_style = true',
        '',
        '[crypt]',
        'type = crypt',
        'remote = s3:bench/rclone',
        `password = ${obscure()}`,
        `password2 = ${obscure()}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const rcloneDir = join(root, 'rclone');
    mkdirSync(rcloneDir);
    for (const mode of RCLONE_MODES) {
      progress(`rclone crypt, --vfs-cache-mode ${mode}`);
      const cache = join(root, `rclone-cache-${mode}`);
      const mountRclone = () =>
        mount('rclone', ['--config', config, 'mount', 'crypt:', rcloneDir, '--vfs-cache-mode', mode, '--cache-dir', cache], cleanEnv(), rcloneDir);
      const result = await measure(rounds, async (i) => {
        const m = await mountRclone();
        mounts.push(m);
        const before = new Set((await listing('rclone/')).map((e) => e.key));
        const expected = cryptSize(size);
        const file = join(rcloneDir, `${mode}-r${i}`);
        const write = await timedWrite(source, file, async () => (await listing('rclone/')).some((e) => !before.has(e.key) && e.size === expected));
        await m.stop();
        rmSync(cache, { recursive: true, force: true });
        const fresh = await mountRclone();
        mounts.push(fresh);
        const read = timedRead(file);
        await fresh.stop();
        rmSync(cache, { recursive: true, force: true });
        return { ...write, read };
      });
      rows.push(row('rclone crypt', `--vfs-cache-mode ${mode}`, size, result));
    }
    options.onProgress?.(steps, steps, 'done');
    const ours = rows[0];
    const ratios = rows.slice(1).map((r) => ({
      mode: r.mode,
      in_bucket: Math.round((ours.in_bucket_MBps / r.in_bucket_MBps) * 100) / 100,
      read: Math.round((ours.read_MBps / r.read_MBps) * 100) / 100,
    }));
    return { rows, ratios };
  } finally {
    for (const m of mounts.reverse()) await m.stop();
    transport.destroy();
    await server.destroy();
    rmSync(root, { recursive: true, force: true });
  }
}

interface Timings extends Timed {
  read: number;
}

interface Summary {
  returned: number;
  inBucket: number;
  read: number;
  /** In some round, a listing begun after the write had returned still found data missing. */
  early: boolean;
}

async function measure(rounds: number, once: (round: number) => Promise<Timings>): Promise<Summary> {
  const all: Timings[] = [];
  for (let i = 0; i < rounds; i++) all.push(await once(i));
  return {
    returned: median(all.map((t) => t.returned)),
    inBucket: median(all.map((t) => t.inBucket)),
    read: median(all.map((t) => t.read)),
    early: all.some((t) => t.lastMiss > t.returned),
  };
}

function row(system: BucketSystem, mode: string, size: number, t: Summary): BucketPipelineRow {
  const mbps = (seconds: number) => round1(size / seconds / 1e6);
  return {
    system,
    mode,
    write_returned_MBps: mbps(t.returned),
    in_bucket_MBps: mbps(t.inBucket),
    write_returned_s: Math.round(t.returned * 1000) / 1000,
    in_bucket_s: Math.round(t.inBucket * 1000) / 1000,
    acknowledged_before_stored: t.early,
    read_MBps: mbps(t.read),
  };
}
