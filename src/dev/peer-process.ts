/**
 * One storage peer as a child process of this one (`cairn peer start`), for
 * the embedded cluster, the tests and the benchmarks: started, killed with
 * any signal, restarted on the same directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CairnError } from '../errors/index.js';
import type { Bootstrap } from '../peer/index.js';
import { repoRoot } from '../repo/index.js';

/** How long a peer may take to print its "serving" line. */
const START_TIMEOUT_MS = 30_000;

export const logPath = (dir: string) => join(dir, 'peer.log');

export class PeerStartError extends CairnError {
  constructor(dir: string, why: string) {
    super('dev.peer-start', `the peer in ${dir} did not start: ${why}`);
  }
}

export interface PeerProcessOptions {
  dir: string;
  zone: string;
  bootstrap: Bootstrap[];
  /** First start only. */
  joinFile?: string;
  capacity?: number;
  env?: NodeJS.ProcessEnv;
}

export class PeerProcess {
  readonly options: PeerProcessOptions;
  #child: ChildProcess | undefined;
  #key = '';

  constructor(options: PeerProcessOptions) {
    this.options = options;
  }

  get key(): string {
    return this.#key;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The last run's exit code (null while running or when ended by a signal). */
  get exitCode(): number | null {
    return this.#child?.exitCode ?? null;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves once the peer serves (its key known); a restart keeps the key, which lives in its directory. */
  async start(): Promise<void> {
    if (this.running) return;
    const { dir, zone, joinFile, capacity, bootstrap, env } = this.options;
    const args = [join(repoRoot(), 'bin', 'cairn.js'), 'peer', 'start', '--dir', dir, '--zone', zone];
    if (joinFile) args.push('--join-file', joinFile);
    if (capacity !== undefined) args.push('--capacity', String(capacity));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // The peer's structured log goes to a file in its directory, where an operator would look.
    const log = await open(logPath(dir), 'a', 0o600);
    const child = spawn(process.execPath, args, {
      env: { ...process.env, CAIRN_LOG: process.env.CAIRN_LOG ?? 'info', ...env, CAIRN_BOOTSTRAP: bootstrap.map((b) => `${b.host}:${b.port}`).join(',') },
      stdio: ['ignore', 'pipe', log.fd],
    });
    await log.close();
    this.#child = child;
    const stderr = async () => (await readFile(logPath(dir), 'utf8').catch(() => '')).trim().split('\n').slice(-3).join('\n');
    let stdout = '';
    const serving = new Promise<string>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
        const match = /^peer ([0-9a-f]{64}) serving/m.exec(stdout);
        if (match) resolve(match[1]);
      });
      child.once('exit', (code, signal) => {
        void stderr().then((tail) => reject(new PeerStartError(dir, `it exited (${signal ?? code}): ${tail}`)));
      });
      child.once('error', (err) => reject(new PeerStartError(dir, err.message)));
      setTimeout(() => reject(new PeerStartError(dir, `no "serving" line within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS).unref();
    });
    try {
      this.#key = await serving;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  /** Sends `signal` and waits for the process to end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  /** SIGSTOP/SIGCONT: a peer that holds connections but never answers. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }
}
