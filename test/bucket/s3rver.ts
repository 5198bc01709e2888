/**
 * s3rver in a child process on 127.0.0.1 (./s3rver-server.mjs), started and
 * stopped by pid, restartable on the same port and directory: the S3 server
 * of the bucket tests and of `cairn bench pipeline --backend bucket`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../src/repo/index.js';

export interface S3rverAccount {
  accessKeyId: string;
  secretAccessKey: string;
  /** HTTP methods answered with AccessDenied. */
  deny?: string[];
}

export interface S3rverOptions {
  buckets?: string[];
  /** Default: one account, TEST_ACCOUNT. */
  accounts?: S3rverAccount[];
  conditional?: boolean;
  atomicPuts?: boolean;
  clockOffsetMs?: number;
  failEvery?: number;
  tls?: { key: string; cert: string };
}

/** Credentials the test servers know unless told otherwise (made up for the tests). */
export const TEST_ACCOUNT: S3rverAccount = { accessKeyId: 'CAIRNTESTKEY', secretAccessKey: 'cairn-test-secret-0123456789' };

export class S3rverProcess {
  readonly directory: string;
  #options: S3rverOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  port = 0;
  flakyPort: number | undefined;

  private constructor(options: S3rverOptions) {
    this.#options = options;
    this.directory = mkdtempSync(join(tmpdir(), 'cairn-s3rver-'));
  }

  static async start(options: S3rverOptions = {}): Promise<S3rverProcess> {
    const server = new S3rverProcess(options);
    try {
      await server.restart();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  get endpoint(): string {
    return `${this.#options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** The front door that fails every `failEvery`th request. */
  get flakyEndpoint(): string {
    if (this.flakyPort === undefined) throw new Error('this s3rver was started without failEvery');
    return `http://127.0.0.1:${this.flakyPort}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts it (again), on the same ports and directory as before; `changes` alter its options from then on (new accounts). */
  async restart(changes: Partial<S3rverOptions> = {}): Promise<void> {
    if (this.#child) throw new Error('s3rver is already running');
    this.#options = { ...this.#options, ...changes };
    const config = {
      directory: this.directory,
      port: this.port,
      flakyPort: this.flakyPort,
      buckets: this.#options.buckets ?? [],
      accounts: this.#options.accounts ?? [TEST_ACCOUNT],
      conditional: this.#options.conditional ?? false,
      atomicPuts: this.#options.atomicPuts ?? false,
      clockOffsetMs: this.#options.clockOffsetMs ?? 0,
      failEvery: this.#options.failEvery,
      tls: this.#options.tls,
    };
    const child = spawn(process.execPath, [join(repoRoot(), 'test', 'bucket', 's3rver-server.mjs')], {
      cwd: repoRoot(),
      env: { ...process.env, S3RVER_CONFIG: JSON.stringify(config) },
      // Its stdin stays open while this process lives: a test run that dies leaves no server behind.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.on('exit', () => resolve()));
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d;
    });
    const ready = await new Promise<{ port: number; flakyPort?: number } | undefined>((resolve) => {
      child.stdout?.on('data', (d: Buffer) => {
        out += d;
        const line = out.split('\n')[0];
        if (out.includes('\n')) resolve(JSON.parse(line) as { port: number; flakyPort?: number });
      });
      void this.#exited.then(() => resolve(undefined));
    });
    if (ready === undefined) {
      this.#child = undefined;
      throw new Error(`s3rver did not start: ${err.trim()}`);
    }
    this.port = ready.port;
    this.flakyPort = ready.flakyPort;
    // A server that dies under a test shows up there only as ECONNREFUSED: say why here.
    child.on('exit', (code, signal) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      process.stderr.write(`s3rver on 127.0.0.1:${this.port} exited unexpectedly (code ${code}, signal ${signal}):\n${err.trim()}\n`);
    });
  }

  /** SIGTERM, and waits for it to exit (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.#exited;
    clearTimeout(killer);
  }

  /** Stops it and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
