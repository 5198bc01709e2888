/**
 * Child processes for the benchmarks that drive a real cluster (`cairn dev
 * up`, mounts, repair) through the command line, as a user would. This
 * process only starts, times and signals them, so it never blocks a DHT node
 * or a FUSE mount it would otherwise have to serve.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../src/repo/index.js';

const cli = () => join(repoRoot(), 'bin', 'cairn.js');

/** How long a long-running command may take to print its ready line. */
const READY_TIMEOUT_MS = 120_000;

export interface ChildOptions {
  /**
   * Its own process group: a Ctrl-C at the terminal then reaches only this
   * process, which stops its children in order. A `cairn` command that
   * caught one signal exits abruptly on a second, leaving its own children.
   */
  detached?: boolean;
}

/** A long-running `cairn` command (a cluster, a mount, a peer). */
export class Child {
  readonly args: readonly string[];
  readonly #proc: ChildProcess;
  readonly #exit: Promise<void>;
  #out = '';
  #signalled = false;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv, options: ChildOptions = {}) {
    this.args = args;
    this.#proc = spawn(process.execPath, [cli(), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    });
    this.#exit = new Promise((resolve) => this.#proc.on('close', () => resolve()));
    this.#proc.on('error', (err) => (this.#out += `\n${err.message}`));
    const add = (d: Buffer) => (this.#out += d.toString());
    this.#proc.stdout?.on('data', add);
    this.#proc.stderr?.on('data', add);
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  /** Everything it wrote to stdout and stderr so far. */
  out(): string {
    return this.#out;
  }

  get exited(): boolean {
    return this.#proc.exitCode !== null || this.#proc.signalCode !== null;
  }

  /** Its exit code once ended (null while running or when a signal ended it). */
  get exitCode(): number | null {
    return this.#proc.exitCode;
  }

  /** Resolves once its output matches `ready`; rejects if it ends first, on timeout or on abort. */
  until(ready: RegExp, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const { timeoutMs = READY_TIMEOUT_MS, signal } = options;
    return new Promise((resolve, reject) => {
      const cleanup: (() => void)[] = [];
      const settle = (err?: Error) => {
        for (const f of cleanup) f();
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (ready.test(this.#out)) settle();
      };
      const tail = () => this.#out.trim().split('\n').slice(-3).join(' / ');
      const timer = setTimeout(() => settle(new Error(`cairn ${this.#name()} printed nothing ready within ${timeoutMs / 1000} s: ${tail()}`)), timeoutMs);
      cleanup.push(() => clearTimeout(timer));
      const ended = () => {
        // Its last words may be in the same chunk as the exit.
        if (ready.test(this.#out)) settle();
        else settle(new Error(`cairn ${this.#name()} ended: ${tail()}`));
      };
      this.#proc.stdout?.on('data', check);
      this.#proc.stderr?.on('data', check);
      cleanup.push(() => this.#proc.stdout?.off('data', check), () => this.#proc.stderr?.off('data', check));
      void this.#exit.then(ended);
      if (signal) {
        const aborted = () => settle(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        if (signal.aborted) aborted();
        signal.addEventListener('abort', aborted, { once: true });
        cleanup.push(() => signal.removeEventListener('abort', aborted));
      }
      check();
    });
  }

  /** Sends `signal` (once, ever), waits up to `graceMs` for the exit, then SIGKILLs it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 60_000): Promise<void> {
    if (this.exited) return;
    if (!this.#signalled) {
      this.#signalled = true;
      this.#proc.kill(signal);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
    const tooLate = await Promise.race([this.#exit.then(() => false), late]);
    clearTimeout(timer);
    if (tooLate && !this.exited) {
      this.#proc.kill('SIGKILL');
      await this.#exit;
    }
  }

  /** Sends a signal that does not end it (SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void {
    if (!this.exited) this.#proc.kill(signal);
  }

  #name(): string {
    return this.args.slice(0, 2).join(' ');
  }
}

/** Starts a long-running `cairn` command and resolves once its output matches `ready` (else it is stopped). */
export async function start(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, options: ChildOptions = {}): Promise<Child> {
  const child = new Child(args, env, options);
  try {
    await child.until(ready);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return child;
}

export interface RunResult {
  seconds: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Reject on a non-zero exit (default true). */
  check?: boolean;
  /** Ends the command (SIGTERM) and rejects. */
  signal?: AbortSignal;
}

/** Runs a command to completion without blocking this process; resolves with the seconds it took and its output. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}, options: RunOptions = {}): Promise<RunResult> {
  const begin = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || options.check === false) resolve({ seconds: (performance.now() - begin) / 1000, code, stdout, stderr });
      else reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr.trim().slice(-500)}`));
    });
  });
}

/** `cairn ARGS` to completion (see run). */
export function cairn(args: string[], env: NodeJS.ProcessEnv, options: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [cli(), ...args], env, options);
}

/** Cold reads: the page cache dropped where this process may, else left as it is for every side alike. */
export function dropCaches(): void {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    // Not allowed here: both sides read equally warm.
  }
}
