/**
 * `cairn bench pipeline --backend peers`: a mounted 4+2 volume on six local
 * storage peers (`cairn dev up`, real processes over the loopback DHT) next
 * to the same workload on a 4+2 volume on the local backend, in the same run:
 * a sequential write ending in fsync, then a cold sequential read through a
 * fresh mount; rounds alternate between the two, each row is the median.
 * Then repair: one peer is killed with -9, a new peer joins, and `cairn
 * repair` rebuilds every shard the dead peer held onto the others.
 *
 * Everything runs as child processes: this process only times them, so it
 * never blocks a DHT node or a FUSE mount it serves.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, cairn, dropCaches, run, start } from '../procs.js';

export interface PeersPipelineRow {
  op: 'write+fsync' | 'cold read';
  peers_MBps: number;
  local_MBps: number;
  /** peers over local. */
  ratio: number;
}

export interface PeersPipelineResult {
  rows: PeersPipelineRow[];
  repair: {
    /** Bytes of shards the killed peer held (and repair rebuilt). */
    lost_bytes: number;
    shards_rebuilt: number;
    seconds: number;
    /** Rebuilt shard bytes per second. */
    rebuilt_MBps: number;
    /** Bytes read to rebuild plus bytes written, per second. */
    moved_MBps: number;
  };
}

export interface PeersPipelineOptions {
  /** Bytes written per round (default 1 GiB; 4 GiB leaves a peer holding 1 GiB for the repair figure). */
  size?: number;
  rounds?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchPeersPipeline(options: PeersPipelineOptions = {}): Promise<PeersPipelineResult> {
  const size = options.size ?? 2 ** 30;
  const mib = Math.max(1, Math.round(size / 2 ** 20));
  const rounds = options.rounds ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'cairn-bench-peers-'));
  const env = {
    CAIRN_HOME: join(root, 'home'),
    CAIRN_STORES: join(root, 'stores'),
    CAIRN_PASSPHRASE: randomBytes(16).toString('hex'),
    CAIRN_LOG: 'warn',
  };
  const children: Child[] = [];
  const steps = rounds * 4 + 1;
  let done = 0;
  const progress = (label: string) => options.onProgress?.(done++, steps, label);
  const mounts: Record<'peers' | 'local', string> = { peers: join(root, 'mnt-peers'), local: join(root, 'mnt-local') };
  try {
    await cairn(['init', '--kdf-memory', '8MiB', '--kdf-passes', '1'], env);
    const cluster = await start(['dev', 'up', '--peers', '6'], env, /Ctrl-C stops the cluster/);
    children.push(cluster);
    await cairn(['volume', 'create', 'peers', '--backend', 'peers'], env);
    await cairn(['volume', 'create', 'local'], env);
    for (const d of Object.values(mounts)) mkdirSync(d);

    const write: Record<'peers' | 'local', number[]> = { peers: [], local: [] };
    const read: Record<'peers' | 'local', number[]> = { peers: [], local: [] };
    for (let r = 0; r < rounds; r++) {
      for (const side of ['peers', 'local'] as const) {
        const dir = mounts[side];
        progress(`${side}: write ${mib} MiB + fsync`);
        let m = await start(['mount', side, dir, '--repair-every', '0'], env, /mounted /);
        const w = await run('dd', ['if=/dev/zero', `of=${join(dir, 'seq')}`, 'bs=1M', `count=${mib}`, 'conv=fsync', 'status=none']);
        write[side].push((mib * 2 ** 20) / w.seconds / 1e6);
        await m.stop();
        progress(`${side}: cold read`);
        dropCaches();
        m = await start(['mount', side, dir, '--read-only'], env, /mounted /);
        const rd = await run('dd', [`if=${join(dir, 'seq')}`, 'of=/dev/null', 'bs=1M', 'status=none']);
        read[side].push((mib * 2 ** 20) / rd.seconds / 1e6);
        await m.stop();
      }
    }

    progress('repair after losing a peer');
    const victim = /peer ([0-9a-f]{16})\s+\S+\s+pid (\d+)\s+(\S+)/.exec(cluster.out());
    if (!victim) throw new Error(`no peer in the dev cluster's output: ${cluster.out()}`);
    const peers = JSON.parse((await cairn(['peer', 'ls', '--json'], env)).stdout) as { key: string; used: number }[];
    const lost = peers.find((p) => p.key.startsWith(victim[1]))!.used;
    process.kill(Number(victim[2]), 'SIGKILL');
    // A replacement joins, as an operator would add one: invite, start, add.
    const joinFile = join(root, 'join.json');
    await cairn(['peer', 'invite', '--out', joinFile], env);
    const spare = await start(['peer', 'start', '--dir', join(root, 'spare'), '--zone', 'zone-7', '--join-file', joinFile], env, /serving in zone/);
    children.push(spare);
    const key = /peer ([0-9a-f]{64}) serving/.exec(spare.out())![1];
    await cairn(['peer', 'add', key, '--zone', 'zone-7'], env);
    await cairn(['peer', 'rm', victim[1]], env);
    const repaired = await cairn(['repair', 'peers', '--json'], env);
    const report = JSON.parse(repaired.stdout) as { shardsRebuilt: number; bytesMoved: number };
    options.onProgress?.(steps, steps, 'done');
    const row = (op: PeersPipelineRow['op'], x: Record<'peers' | 'local', number[]>): PeersPipelineRow => ({
      op,
      peers_MBps: round1(median(x.peers)),
      local_MBps: round1(median(x.local)),
      ratio: Math.round((median(x.peers) / median(x.local)) * 100) / 100,
    });
    return {
      rows: [row('write+fsync', write), row('cold read', read)],
      repair: {
        lost_bytes: lost,
        shards_rebuilt: report.shardsRebuilt,
        seconds: Math.round(repaired.seconds * 10) / 10,
        rebuilt_MBps: round1(lost / repaired.seconds / 1e6),
        moved_MBps: round1(report.bytesMoved / repaired.seconds / 1e6),
      },
    };
  } finally {
    for (const c of children.reverse()) await c.stop('SIGINT');
    for (const d of Object.values(mounts)) spawnSync('fusermount', ['-uz', d]);
    rmSync(root, { recursive: true, force: true });
  }
}
