/**
 * Runs one command in a runc container and waits for it: checks the host and
 * the spec, writes an OCI bundle (just config.json; the rootfs is used in
 * place, read-only) to a temp directory, runs `runc run` in the foreground,
 * and afterwards always removes the container's runc state and the bundle,
 * whether the command ended, the caller aborted, or the process got SIGINT or
 * SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ContainerAbortedError,
  ContainerCleanupError,
  MountSourceMissingError,
  NotRootError,
  RootfsMissingError,
} from './errors.js';
import { ociConfig, validateSpec } from './oci.js';
import { type Runc, findRunc, runcCommand } from './runc.js';
import { guardContainer } from './signals.js';
import type { ContainerResult, ContainerSpec } from './types.js';

/**
 * runc's state for our containers: apart from runc's own /run/runc so we never
 * see (or delete) other runc users' containers, and under /run like it, which
 * is a tmpfs that a reboot clears along with the containers it describes.
 */
export const RUNC_ROOT = '/run/cairn/runc';
/** How long a container may take to exit after a forwarded SIGINT/SIGTERM before it is killed. */
export const STOP_TIMEOUT_MS = 5000;
// runc kill fails until `runc run` has created the container; retry this often meanwhile.
const KILL_RETRY_MS = 50;

const SIGNAL_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.signals)) if (!SIGNAL_NAMES.has(n)) SIGNAL_NAMES.set(n, name);

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

async function checkHost(spec: ContainerSpec): Promise<void> {
  if (process.getuid?.() !== 0) throw new NotRootError();
  const rootfs = await stat(spec.rootfs).catch((err: unknown) => {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (!rootfs?.isDirectory()) throw new RootfsMissingError(spec.rootfs);
  for (const m of spec.mounts ?? []) {
    // runc would fail too, but only after creating the container and with a vaguer message.
    await stat(m.source).catch((err: unknown) => {
      throw errno(err) === 'ENOENT' ? new MountSourceMissingError(m.source, m.target) : err;
    });
  }
}

/** runc exits 128+N when the container was killed by signal N; so do we when runc itself was. */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): { exitCode: number; signal?: string } {
  const exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
  const name = exitCode > 128 ? SIGNAL_NAMES.get(exitCode - 128) : undefined;
  return name ? { exitCode, signal: name } : { exitCode };
}

/** Stops one container through `runc kill`, which reaches it even if `runc run` is stuck. */
class Stopper {
  #ended = false;
  #timer: NodeJS.Timeout | undefined;
  aborted = false;
  /** The first host signal forwarded, if any. */
  hostSignal: NodeJS.Signals | undefined;

  constructor(
    private readonly runc: Runc,
    private readonly id: string,
    private readonly stopTimeoutMs: number,
  ) {}

  get stopping(): boolean {
    return this.aborted || this.hostSignal !== undefined;
  }

  /** The caller aborted: kill at once. */
  abort(): void {
    this.aborted = true;
    void this.#send('KILL');
  }

  /**
   * A host SIGINT/SIGTERM: pass it on so the program can exit cleanly; kill
   * it if it has not within the stop timeout, or at a second signal.
   */
  forward = (signal: NodeJS.Signals): void => {
    if (this.hostSignal !== undefined) {
      void this.#send('KILL');
      return;
    }
    this.hostSignal = signal;
    void this.#send(signal);
    this.#timer = setTimeout(() => void this.#send('KILL'), this.stopTimeoutMs);
  };

  ended(): void {
    this.#ended = true;
    clearTimeout(this.#timer);
  }

  async #send(signal: string): Promise<void> {
    // Fails while the container is not created yet or already gone; retry until runc run returns.
    while (!this.#ended && !(await runcCommand(this.runc, ['kill', this.id, signal])).ok) await delay(KILL_RETRY_MS);
  }
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

async function run(runc: Runc, id: string, bundle: string, spec: ContainerSpec): Promise<ContainerResult> {
  const pipe = spec.stdio === 'pipe';
  // Not detached: runc stays in our process group, so a Ctrl-C in the terminal reaches it (and it forwards it).
  const child = spawn(runc.binary, ['--root', runc.root, 'run', '--bundle', bundle, id], {
    stdio: pipe ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  // A long-running container's output goes to onOutput as it comes, not into memory.
  const onOutput = spec.onOutput ?? ((stream, chunk) => (stream === 'stdout' ? stdout : stderr).push(chunk));
  child.stdout?.on('data', (chunk: Buffer) => onOutput('stdout', chunk));
  child.stderr?.on('data', (chunk: Buffer) => onOutput('stderr', chunk));
  const { code, signal } = await exited(child);
  const status = exitStatus(code, signal);
  return pipe
    ? { ...status, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }
    : status;
}

/**
 * Runs `spec.command` in a new container and resolves with its exit status
 * once the container and its bundle are removed. Rejects with a typed error,
 * before starting anything, when runc, root, the rootfs or a mount source is
 * missing; rejects with ContainerAbortedError when `spec.signal` aborts it.
 */
export async function runContainer(given: ContainerSpec): Promise<ContainerResult> {
  // Host paths may be relative to our cwd; runc needs them absolute.
  const spec: ContainerSpec = {
    ...given,
    rootfs: resolve(given.rootfs),
    mounts: given.mounts?.map((m) => ({ ...m, source: resolve(m.source) })),
  };
  validateSpec(spec);
  const runc: Runc = { binary: findRunc(spec.runc), root: spec.runcRoot ?? RUNC_ROOT };
  await checkHost(spec);
  // Random, so concurrent runs (in this process or others) never collide.
  const id = `cairn-${spec.name ? `${spec.name}-` : ''}${randomBytes(6).toString('hex')}`;
  const abortSignal = spec.signal;
  if (abortSignal?.aborted) throw new ContainerAbortedError(id, abortSignal.reason);

  const stopper = new Stopper(runc, id, spec.stopTimeoutMs ?? STOP_TIMEOUT_MS);
  const onAbort = () => stopper.abort();
  abortSignal?.addEventListener('abort', onAbort, { once: true });
  const release = guardContainer(stopper.forward);
  const bundle = join(tmpdir(), id);
  let result: ContainerResult | undefined;
  let cleanupFailure: string | undefined;
  try {
    await mkdir(runc.root, { recursive: true, mode: 0o700 });
    await mkdir(bundle, { mode: 0o700 });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(ociConfig(spec, id)));
    // Stopped while we were preparing: nothing to start.
    if (!stopper.stopping) result = await run(runc, id, bundle, spec);
  } finally {
    stopper.ended();
    abortSignal?.removeEventListener('abort', onAbort);
    try {
      // runc run removes a container that ran to the end; this catches every other way out.
      const deleted = await runcCommand(runc, ['delete', '--force', id]);
      if (!deleted.ok) cleanupFailure = deleted.stderr;
      await rm(bundle, { recursive: true, force: true });
    } finally {
      release();
    }
  }
  if (cleanupFailure !== undefined) throw new ContainerCleanupError(id, cleanupFailure);
  if (stopper.aborted) throw new ContainerAbortedError(id, abortSignal?.reason);
  // No result: a host signal came before the container started (and someone else handles that signal).
  return result ?? exitStatus(null, stopper.hostSignal ?? null);
}
