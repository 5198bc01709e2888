/**
 * The node agent (`cairn node start`): registers this node's zone, labels and
 * capacity with the control plane, then heartbeats every second. Each
 * heartbeat carries the status of the instances it runs (and their recent
 * output); each answer lists the instances it should run, and the agent
 * starts and stops instances to match. While the control plane is
 * unreachable, the instances keep running as they are.
 *
 * State directory: node.json (the node's id), agent.pid (one agent per
 * directory), runc/ (runc's state for our containers), mounts/<instance>/<n>
 * (volume mount points), journals/ (the volumes' write-back journals).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION, type Assignment, type HeartbeatRequest } from '../control/api.js';
import { ControlClient } from '../control/client.js';
import { ControlError } from '../control/errors.js';
import { CairnError } from '../errors/index.js';
import { createLogger } from '../log/index.js';
import type { Capacity } from '../scheduler/model.js';
import { NotRootError, RootfsMissingError, defaultRootfsDir } from '../scheduler/index.js';
import { findRunc } from '../scheduler/runc.js';
import { Instance, type VolumeOpener } from './instance.js';
import { clearLeftovers } from './leftovers.js';
import { OutputQueue } from './output.js';

export const DEFAULT_HEARTBEAT_MS = 1000;
const MAX_LINES_PER_HEARTBEAT = 1000;
/** How long a starting agent waits for the control plane before giving up. */
const REGISTER_TIMEOUT_MS = 30_000;

export interface NodeAgentOptions {
  stateDir: string;
  /** The control plane's URL. */
  control: string;
  name: string;
  zone: string;
  labels: Record<string, string>;
  /** Default: this machine's cores and memory. */
  capacity?: Partial<Capacity>;
  /** Where instances are reached; default 127.0.0.1. */
  address?: string;
  heartbeatMs?: number;
  rootfs?: string;
  openVolume: VolumeOpener;
}

export interface NodeAgent {
  id: string;
  name: string;
  /** Stops every instance (committing and unmounting its volumes), then leaves the cluster. */
  close(): Promise<void>;
}

export class AgentBusyError extends CairnError {
  constructor(dir: string, pid: number) {
    super('node.busy', `another node agent (pid ${pid}) uses ${dir}; give each agent its own --state directory`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** One agent per state directory: a pid file, taken over when its process is gone. */
async function lockStateDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, 'agent.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx', 0o600);
      await file.writeFile(String(process.pid));
      await file.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await readFile(path, 'utf8').catch(() => ''));
      if (pid > 0 && pid !== process.pid && alive(pid)) throw new AgentBusyError(dir, pid);
      await rm(path, { force: true });
    }
  }
  throw new CairnError('node.lock', `could not take ${path}`);
}

async function nodeId(dir: string): Promise<string> {
  const path = join(dir, 'node.json');
  try {
    const { id } = JSON.parse(await readFile(path, 'utf8')) as { id: string };
    if (/^[0-9a-f]{32}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CairnError('node.state', `${path} is unreadable; remove it to start as a new node`);
  }
  const id = randomBytes(16).toString('hex');
  await writeFile(path, JSON.stringify({ v: 1, id }), { mode: 0o600 });
  return id;
}

export async function startNodeAgent(options: NodeAgentOptions): Promise<NodeAgent> {
  if (process.getuid?.() !== 0) throw new NotRootError();
  const runc = { binary: findRunc(), root: '' };
  const rootfs = options.rootfs ?? defaultRootfsDir();
  if (!(await realpath(rootfs).catch(() => undefined))) throw new RootfsMissingError(rootfs);
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  const dir = await realpath(options.stateDir);
  const unlock = await lockStateDir(dir);
  try {
    runc.root = join(dir, 'runc');
    const log = createLogger('node').child({ node: options.name });
    const mountRoot = join(dir, 'mounts');
    const left = await clearLeftovers(runc, mountRoot);
    if (left.containers.length + left.mounts.length > 0) log.warn(left, 'cleared what a previous run left behind');
    await mkdir(mountRoot, { recursive: true });
    const agent = new Agent(options, await nodeId(dir), {
      address: options.address ?? '127.0.0.1',
      rootfs,
      runcRoot: runc.root,
      mountRoot,
      journalRoot: join(dir, 'journals'),
      openVolume: options.openVolume,
      output: new OutputQueue(),
      log,
      changed: () => agent.poke(),
    });
    await agent.register(REGISTER_TIMEOUT_MS);
    agent.start();
    return {
      id: agent.id,
      name: options.name,
      close: async () => {
        try {
          await agent.close();
        } finally {
          await unlock();
        }
      },
    };
  } catch (err) {
    await unlock();
    throw err;
  }
}

class Agent {
  readonly id: string;
  readonly #options: NodeAgentOptions;
  readonly #ctx: ConstructorParameters<typeof Instance>[1];
  readonly #client: ControlClient;
  readonly #instances = new Map<string, Instance>();
  /** Instances told to stop and not done yet: still reported, so the control plane waits for them. */
  readonly #stopping = new Map<string, { instance: Instance; done: Promise<void> }>();
  readonly #closed = new AbortController();
  #loop?: Promise<void>;
  #unreachable = false;
  /** Cuts the wait for the next heartbeat short. */
  #wake = new AbortController();
  #poked = false;

  constructor(options: NodeAgentOptions, id: string, ctx: ConstructorParameters<typeof Instance>[1]) {
    this.id = id;
    this.#options = options;
    this.#ctx = ctx;
    this.#client = new ControlClient(options.control);
  }

  async register(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const given = this.#options.capacity;
    const capacity = { cpu: given?.cpu ?? cpus().length, memoryBytes: given?.memoryBytes ?? totalmem() };
    const req = {
      api: API_VERSION,
      id: this.id,
      name: this.#options.name,
      zone: this.#options.zone,
      labels: this.#options.labels,
      capacity,
      address: this.#ctx.address,
    };
    for (;;) {
      try {
        await this.#client.register(req);
        this.#ctx.log.info({ id: this.id, zone: req.zone, control: this.#options.control }, 'registered');
        return;
      } catch (err) {
        // Refusals are final; an unreachable control plane may just be starting.
        if (err instanceof ControlError || Date.now() > deadline || this.#closed.signal.aborted) throw err;
        if (!(err instanceof CairnError) || err.code !== 'control.unreachable') throw err;
        await sleep(500);
      }
    }
  }

  start(): void {
    this.#loop = this.#heartbeats();
  }

  /** Heartbeat now rather than at the next tick: an instance became healthy, or finished stopping. */
  poke(): void {
    this.#poked = true;
    this.#wake.abort();
  }

  async #heartbeats(): Promise<void> {
    const every = this.#options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    while (!this.#closed.signal.aborted) {
      const began = Date.now();
      this.#poked = false;
      await this.#beat();
      if (this.#poked) continue;
      this.#wake = new AbortController();
      const signal = AbortSignal.any([this.#closed.signal, this.#wake.signal]);
      await sleep(Math.max(0, every - (Date.now() - began)), undefined, { signal }).catch(() => undefined);
    }
  }

  async #beat(): Promise<void> {
    const report: HeartbeatRequest = {
      instances: [...this.#instances.values(), ...[...this.#stopping.values()].map((s) => s.instance)].map((i) => i.status()),
      logs: this.#ctx.output.take(MAX_LINES_PER_HEARTBEAT),
    };
    try {
      const answer = await this.#client.heartbeat(this.id, report);
      if (this.#unreachable) this.#ctx.log.info('control plane reachable again');
      this.#unreachable = false;
      if (!this.#closed.signal.aborted) this.#reconcile(answer.instances);
    } catch (err) {
      this.#ctx.output.giveBack(report.logs);
      if (err instanceof ControlError && err.code === 'control.no-such-node') {
        // Forgotten (e.g. the control plane lost its state, or another node took our name): register again.
        await this.register(0).catch((e: unknown) => this.#ctx.log.error({ err: (e as Error).message }, 'could not register again'));
      } else if (!this.#unreachable) {
        this.#unreachable = true;
        this.#ctx.log.warn({ err: (err as Error).message }, 'heartbeat failed; instances keep running');
      }
    }
  }

  #reconcile(wanted: Assignment[]): void {
    const ids = new Set(wanted.map((a) => a.id));
    for (const a of wanted) {
      if (this.#instances.has(a.id) || this.#stopping.has(a.id)) continue;
      this.#ctx.log.info({ instance: a.id, version: a.version, takeover: a.takeover }, 'starting instance');
      this.#instances.set(a.id, new Instance(a, this.#ctx));
    }
    for (const [id, instance] of this.#instances) if (!ids.has(id)) this.#stop(id, instance);
  }

  #stop(id: string, instance: Instance): void {
    this.#instances.delete(id);
    this.#ctx.log.info({ instance: id }, 'stopping instance');
    const done = instance.stop().finally(() => {
      this.#stopping.delete(id);
      this.poke();
    });
    this.#stopping.set(id, { instance, done });
  }

  async close(): Promise<void> {
    this.#closed.abort();
    await this.#loop;
    for (const [id, instance] of this.#instances) this.#stop(id, instance);
    await Promise.all([...this.#stopping.values()].map((s) => s.done));
    await this.#client.leave(this.id).catch((err: unknown) => this.#ctx.log.warn({ err: (err as Error).message }, 'could not leave the cluster'));
  }
}
