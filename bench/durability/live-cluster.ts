/**
 * The live run's throwaway cluster: a temp $CAIRN_HOME with its own keyring,
 * `cairn dev up` and the peers, mounts and commands the run starts, all as
 * child processes. close() stops each by pid, unmounts and removes the temp
 * directory, also after a failure or an interrupt.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Child, type RunOptions, type RunResult, cairn, run } from '../procs.js';
import type { Random } from './random.js';

/** The volume every live run writes, faults and verifies. */
export const VOLUME = 'live';

export interface LivePeer {
  /** The first 16 hex characters of its key, as `cairn dev up` prints it. */
  key: string;
  zone: string;
  dir: string;
  pid: number;
  /** Set once this run restarted it: then it is this run's child, not dev up's. */
  own?: Child;
  state: 'up' | 'killed' | 'stalled';
  /** Killed at some point: repair moved its shards away, so what it holds since is mostly unreferenced. */
  killedBefore: boolean;
}

const DEV_PEER = /^\s*peer ([0-9a-f]{16})\s+(\S+)\s+pid (\d+)\s+(.+?)\s*$/gm;

/** A process's state letter from /proc (Z: ended, waiting for its parent), or null once gone. */
function procState(pid: number): string | null {
  try {
    return /^\d+ \(.*\) (\S)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

const alive = (pid: number) => {
  const state = procState(pid);
  return state !== null && state !== 'Z';
};

export class LiveCluster {
  readonly root = mkdtempSync(join(tmpdir(), 'cairn-bench-live-'));
  readonly mountDir = join(this.root, 'mnt');
  readonly env: NodeJS.ProcessEnv = {
    CAIRN_HOME: join(this.root, 'home'),
    CAIRN_STORES: join(this.root, 'stores'),
    CAIRN_PASSPHRASE: randomBytes(16).toString('hex'),
    CAIRN_LOG: 'warn',
  };
  peers: LivePeer[] = [];
  readonly #signal: AbortSignal;
  #dev: Child | undefined;
  /** Peers this run restarted and mounts, in start order. */
  #children: Child[] = [];

  constructor(signal: AbortSignal) {
    this.#signal = signal;
    mkdirSync(this.mountDir);
  }

  /** A fresh keyring (cheap KDF: it guards nothing here) and `cairn dev up --peers N`. */
  async up(peers: number): Promise<void> {
    await this.cairn(['init', '--kdf-memory', '8MiB', '--kdf-passes', '1']);
    this.#dev = new Child(['dev', 'up', '--peers', String(peers)], this.env, { detached: true });
    await this.#dev.until(/Ctrl-C stops the cluster/, { signal: this.#signal });
    this.peers = [...this.#dev.out().matchAll(DEV_PEER)].map(([, key, zone, pid, dir]) => ({
      key,
      zone,
      dir,
      pid: Number(pid),
      state: 'up',
      killedBefore: false,
    }));
    if (this.peers.length !== peers) {
      throw new Error(`cairn dev up listed ${this.peers.length} peers, not ${peers}: ${this.#dev.out().slice(0, 2000)}`);
    }
  }

  get aborted(): boolean {
    return this.#signal.aborted;
  }

  cairn(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return cairn(args, this.env, { signal: this.#signal, ...options });
  }

  run(command: string, args: string[]): Promise<RunResult> {
    return run(command, args, {}, { signal: this.#signal });
  }

  /** kill -9 each, and wait until each is gone. */
  async kill(peers: LivePeer[]): Promise<void> {
    await Promise.all(
      peers.map(async (p) => {
        if (p.own) {
          await p.own.stop('SIGKILL');
          this.#children = this.#children.filter((c) => c !== p.own);
          p.own = undefined;
        } else {
          process.kill(p.pid, 'SIGKILL');
          for (let i = 0; i < 200 && alive(p.pid); i++) await sleep(50);
        }
        p.state = 'killed';
        p.killedBefore = true;
      }),
    );
  }

  /** `cairn peer start --dir` on each killed peer's directory (same key, same shards), until each serves again. */
  async restart(peers: LivePeer[]): Promise<void> {
    const config = JSON.parse(await readFile(join(this.env.CAIRN_HOME!, 'cluster.json'), 'utf8')) as { bootstrap: { host: string; port: number }[] };
    const bootstrap = config.bootstrap.map((b) => `${b.host}:${b.port}`).join(',');
    await Promise.all(
      peers.map(async (p) => {
        const child = new Child(['peer', 'start', '--dir', p.dir], { ...this.env, CAIRN_BOOTSTRAP: bootstrap }, { detached: true });
        this.#children.push(child);
        await child.until(/^peer [0-9a-f]{64} serving/m, { signal: this.#signal });
        if (!new RegExp(`^peer ${p.key}`, 'm').test(child.out())) throw new Error(`the peer restarted in ${p.dir} has another key: ${child.out()}`);
        p.own = child;
        p.pid = child.pid!;
        p.state = 'up';
      }),
    );
  }

  /** SIGSTOP: the peer keeps its connections but answers nothing. */
  stall(peer: LivePeer): void {
    process.kill(peer.pid, 'SIGSTOP');
    peer.state = 'stalled';
  }

  resume(peer: LivePeer): void {
    process.kill(peer.pid, 'SIGCONT');
    peer.state = 'up';
  }

  /**
   * Flips one byte in each of `count` shard files on the peer's disk, as bit
   * rot would, while the peer runs. It picks among the larger files (data
   * shards, rather than the small ones of the volume's metadata). Returns the
   * ids of the shards damaged.
   */
  async corrupt(peer: LivePeer, count: number, random: Random): Promise<string[]> {
    const shards = join(peer.dir, 'store', 'shards');
    const all = readdirSync(shards)
      .sort()
      .flatMap((prefix) => readdirSync(join(shards, prefix)).sort().map((id) => ({ path: join(shards, prefix, id), id, size: statSync(join(shards, prefix, id)).size })));
    const largest = Math.max(0, ...all.map((f) => f.size));
    const files = all.filter((f) => f.size >= largest / 2);
    const chosen: typeof files = [];
    while (chosen.length < Math.min(count, files.length)) chosen.push(...files.splice(random.below(files.length), 1));
    for (const file of chosen) {
      const offset = random.below(file.size);
      const fh = await open(file.path, 'r+');
      try {
        const byte = Buffer.alloc(1);
        await fh.read(byte, 0, 1, offset);
        byte[0] ^= 0xff;
        await fh.write(byte, 0, 1, offset);
      } finally {
        await fh.close();
      }
    }
    return chosen.map((f) => f.id);
  }

  /** Shards each peer holds, by its 16-hex key (null when it is down). */
  async shardCounts(): Promise<Map<string, number | null>> {
    const rows = JSON.parse((await this.cairn(['peer', 'ls', '--json'])).stdout) as { key: string; shards: number | null }[];
    return new Map(rows.map((r) => [r.key.slice(0, 16), r.shards]));
  }

  /** Mounts the volume at mountDir (read-write without background repair, so repair runs only when the schedule says). */
  async mount(readOnly: boolean): Promise<Child> {
    const args = ['mount', VOLUME, this.mountDir, ...(readOnly ? ['--read-only'] : ['--repair-every', '0'])];
    const child = new Child(args, this.env, { detached: true });
    this.#children.push(child);
    try {
      await child.until(/^mounted /m, { signal: this.#signal });
    } catch (err) {
      await this.unmount(child);
      if (this.aborted) throw err;
      // What the mount said last is why (e.g. a stripe of the volume's metadata is unreadable).
      const said = child.out().trim().split('\n').pop()?.replace(/^cairn: /, '');
      throw new Error(said || (err as Error).message, { cause: err });
    }
    return child;
  }

  /** SIGTERM (a read-write mount commits first), then a lazy unmount in case the process could not. */
  async unmount(mount: Child): Promise<void> {
    await mount.stop('SIGTERM', 30_000);
    this.#children = this.#children.filter((c) => c !== mount);
    await run('fusermount', ['-uz', this.mountDir], {}, { check: false });
  }

  /**
   * Everything this run started, by pid: stalled peers resumed (else they
   * could not stop), mounts and restarted peers stopped, the cluster stopped
   * with SIGINT (it stops its peers), then any of its peers still running
   * killed, and the temp directory removed.
   */
  async close(): Promise<void> {
    for (const p of this.peers) if (p.state === 'stalled' && alive(p.pid)) process.kill(p.pid, 'SIGCONT');
    for (const child of this.#children.reverse()) await child.stop('SIGTERM', 30_000);
    this.#children = [];
    await run('fusermount', ['-uz', this.mountDir], {}, { check: false }).catch(() => undefined);
    await this.#dev?.stop('SIGINT', 60_000);
    for (const p of this.peers) {
      // Only if it is still one of ours: a dev peer whose command line names this run's directory.
      let cmdline = '';
      try {
        if (alive(p.pid)) cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
      } catch {
        // Gone in the meantime.
      }
      if (cmdline.includes(this.root)) process.kill(p.pid, 'SIGKILL');
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}
