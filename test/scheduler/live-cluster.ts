/**
 * A real cluster on this machine for integration tests: `cairn control
 * start` and several `cairn node start` processes sharing one throwaway
 * $CAIRN_HOME and stores (CairnEnv). Everything it starts is stopped after
 * the file's tests, pass or fail: agents get SIGTERM (they stop their
 * containers and unmount), then SIGKILL; then every container left under the
 * agents' runc roots is deleted and every mount under the test root is
 * detached, so a killed agent leaves nothing behind either.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll } from 'vitest';
import { type AppView, ControlClient } from '../../src/control/index.js';
import { defaultRootfsDir } from '../../src/scheduler/index.js';
import { BIN, type ControlProcess, startControlProcess, stopProcess, waitForLine } from '../control/control-process.js';
import { CairnEnv } from '../helpers/cairn-env.js';
import { REPO } from '../helpers/cli.js';

export interface Agent {
  name: string;
  zone: string;
  state: string;
  child: ChildProcess;
  output(): string;
}

/** Root, runc, FUSE and the rootfs are needed: fail loudly (never skip) without them. */
export function requireHost(): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  if (!existsSync('/dev/fuse')) missing.push('/dev/fuse');
  for (const bin of ['/usr/sbin/runc', '/usr/bin/fusermount']) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      missing.push(bin);
    }
  }
  if (!existsSync(defaultRootfsDir())) missing.push(`the container rootfs (${defaultRootfsDir()})`);
  if (missing.length > 0) throw new Error(`these tests need ${missing.join(', ')}: run as root after \`npm run setup\``);
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
const mountPath = (field: string) => field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mounts under `dir`, with their device (0:N is FUSE connection N for a FUSE mount). */
function mountTable(dir: string): { path: string; device: string; fuse: boolean }[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      const fstype = line.split(' - ')[1]?.split(' ')[0] ?? '';
      return { path: mountPath(fields[4]), device: fields[2], fuse: /^fuse(\.|$)/.test(fstype) };
    })
    .filter((m) => m.path.startsWith(`${dir}/`));
}

export const mountsUnder = (dir: string): string[] => mountTable(dir).map((m) => m.path);

/** Processes whose command line mentions `text` (e.g. a container id). */
export function processesWith(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

export function runcList(root: string): { id: string; status: string; bundle: string }[] {
  if (!existsSync(root)) return [];
  const out = execFileSync('runc', ['--root', root, 'list', '--format', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return (JSON.parse(out) as { id: string; status: string; bundle: string }[] | null) ?? [];
}

/** The memory limit (bytes) and CPU quota (µs per 100 ms) the kernel enforces on a running container, read on the host. */
export function containerLimits(runcRoot: string, id: string): { memoryBytes: number; cpuQuotaUs: number } {
  const state = JSON.parse(execFileSync('runc', ['--root', runcRoot, 'state', id], { encoding: 'utf8' })) as { pid: number };
  const groups = readFileSync(`/proc/${state.pid}/cgroup`, 'utf8').split('\n').filter(Boolean);
  const v1 = (controller: string) => groups.map((l) => l.split(':')).find(([, c]) => c.split(',').includes(controller))?.[2];
  const memory = v1('memory');
  const cpu = v1('cpu');
  if (memory !== undefined && cpu !== undefined) {
    return {
      memoryBytes: Number(readFileSync(join('/sys/fs/cgroup/memory', memory, 'memory.limit_in_bytes'), 'utf8')),
      cpuQuotaUs: Number(readFileSync(join('/sys/fs/cgroup/cpu', cpu, 'cpu.cfs_quota_us'), 'utf8')),
    };
  }
  const unified = join('/sys/fs/cgroup', groups.find((l) => l.startsWith('0::'))!.slice(3));
  return {
    memoryBytes: Number(readFileSync(join(unified, 'memory.max'), 'utf8')),
    cpuQuotaUs: Number(readFileSync(join(unified, 'cpu.max'), 'utf8').split(' ')[0]),
  };
}

export class LiveCluster {
  readonly env: CairnEnv;
  control!: ControlProcess;
  client!: ControlClient;
  readonly agents = new Map<string, Agent>();
  #peers: ChildProcess | undefined;

  constructor(prefix: string) {
    this.env = new CairnEnv(prefix);
    // Registered after CairnEnv's own hooks, so it runs before they remove the test root.
    afterAll(() => this.cleanup(), 120_000);
  }

  async start(nodes: [name: string, zone: string][]): Promise<void> {
    requireHost();
    this.env.init();
    // A dev CA, so http ports (TLS terminated by the router) get their certificates.
    this.control = await startControlProcess(this.env.dir('control'), ['--ca', join(this.env.root, 'ca')], this.env.env);
    this.client = new ControlClient(this.control.url);
    await Promise.all(nodes.map(([name, zone]) => this.startAgent(name, zone)));
  }

  /** `cairn node start` (again, for a restart: the same state directory). */
  async startAgent(name: string, zone: string): Promise<Agent> {
    const state = join(this.env.root, `node-${name}`);
    const child = spawn(process.execPath, [BIN, 'node', 'start', '--state', state, '--name', name, '--zone', zone, '--control', this.control.url], {
      cwd: REPO,
      env: { ...process.env, ...this.env.env, CAIRN_LOG: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d));
    child.stderr?.on('data', (d: Buffer) => (out += d));
    const agent: Agent = { name, zone, state, child, output: () => out };
    this.agents.set(name, agent);
    await waitForLine(child, /node \S+ \([0-9a-f]{32}\) registered/, 60_000, agent.output);
    return agent;
  }

  /**
   * Storage peers for `--backend peers` volumes (`cairn dev up`, its own process). On peers, a paused node holds
   * no lock any other node waits for; on the local backend's shared directories it can, for as long as it is paused.
   */
  async startPeers(count: number): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'dev', 'up', '--peers', String(count)], {
      cwd: REPO,
      env: { ...process.env, ...this.env.env, CAIRN_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#peers = child;
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d));
    child.stderr?.on('data', (d: Buffer) => (out += d));
    await waitForLine(child, /Ctrl-C stops the cluster/, 60_000, () => out);
  }

  /** `cairn <args>` with this cluster's home, stores, passphrase and control plane. */
  cli(args: string[]) {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      cwd: REPO,
      env: { ...process.env, ...this.env.env, CAIRN_CONTROL: this.control.url, CAIRN_LOG: 'warn' },
      encoding: 'utf8',
      timeout: 180_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  app(name: string): Promise<AppView> {
    return this.client.app(name);
  }

  /** Polls `probe` every 100 ms until it returns a value; fails after `timeoutMs` with `what` and the agents' last log lines. */
  async waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.#diagnose()}`);
      await sleep(100);
    }
  }

  /** For a timeout's message: each agent's last log lines, its process state, and its containers' processes. */
  #diagnose(): string {
    const read = (path: string) => {
      try {
        return readFileSync(path, 'utf8').trim();
      } catch {
        return '?';
      }
    };
    const proc = (pid: number) =>
      `${pid} ${read(`/proc/${pid}/status`).split('\n').find((l) => l.startsWith('State')) ?? ''} wchan=${read(`/proc/${pid}/wchan`)}`;
    return [...this.agents.values()]
      .map((a) => {
        const containers = runcList(join(a.state, 'runc')).map((c) => {
          const pid = (JSON.parse(execFileSync('runc', ['--root', join(a.state, 'runc'), 'state', c.id], { encoding: 'utf8' })) as { pid: number }).pid;
          const children = read(`/proc/${pid}/task/${pid}/children`).split(' ').filter(Boolean).map(Number);
          return `  container ${c.id} ${c.status}: ${[pid, ...children].map(proc).join('; ')}`;
        });
        const agent = a.child.pid === undefined ? 'no pid' : proc(a.child.pid);
        return [`--- ${a.name} (${agent}):`, ...a.output().split('\n').slice(-15), ...containers].join('\n');
      })
      .join('\n');
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => stopProcess(a.child, 'SIGTERM', 20_000)));
    // A killed agent's FUSE connections may outlive it (see src/node/leftovers.ts): abort them so its containers can die.
    for (const m of mountTable(this.env.root).filter((x) => x.fuse && x.device.startsWith('0:'))) {
      spawnSync('sh', ['-c', `echo 1 > /sys/fs/fuse/connections/${m.device.slice(2)}/abort`]);
    }
    for (const a of this.agents.values()) {
      const root = join(a.state, 'runc');
      for (const c of runcList(root)) {
        spawnSync('runc', ['--root', root, 'delete', '--force', c.id]);
        if (basename(c.bundle) === c.id) rmSync(c.bundle, { recursive: true, force: true });
      }
    }
    for (const m of mountsUnder(this.env.root).sort((a, b) => b.length - a.length)) {
      if (spawnSync('fusermount', ['-uz', m]).status !== 0) spawnSync('umount', ['-l', m]);
    }
    await this.control?.stop();
    if (this.#peers) await stopProcess(this.#peers, 'SIGINT', 20_000);
  }
}
