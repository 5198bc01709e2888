/**
 * Real FUSE mounts for tests, each served by a child process (never by the
 * test process: a process blocked in a system call on its own mount can't
 * answer it, and deadlocks). Children run the compiled code in dist/, built by
 * `npm run build`. Every child is unmounted and killed after each test, also
 * on failure, with bounded waits.
 */
import { execFile, execFileSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SERVE_DOUBLE = 'test/fuse/serve-double';
export const SERVE_NOOP = 'fuse/serve-noop';
const WAIT_MS = 15_000;

/** Fails loudly, rather than skipping, where FUSE or the build is missing. */
export function assertFuseReady(): void {
  if (!existsSync('/dev/fuse')) throw new Error('/dev/fuse is missing: these tests need FUSE (modprobe fuse)');
  try {
    execFileSync('fusermount', ['-V'], { stdio: 'ignore' });
  } catch {
    throw new Error('fusermount is missing: apt-get install fuse3');
  }
  const sources = [SERVE_DOUBLE, 'test/fuse/memory-fs', SERVE_NOOP, 'fuse/adapter', 'fuse/binding', 'fuse/mount-point'];
  for (const source of [...sources, 'fuse/mount', 'fuse/noop', 'fuse/errors', 'fuse/io-size', 'fuse/request-record', 'fuse/read-drops', 'fuse/index']) {
    const built = join(REPO, 'dist', `${source}.js`);
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(REPO, `${source}.ts`)).mtimeMs) {
      throw new Error(`dist/${source}.js is missing or older than ${source}.ts: run \`npm run build\` first`);
    }
  }
}

export const distScript = (source: string): string => join(REPO, 'dist', `${source}.js`);

/** Rejects after `ms`, so a hung mount fails one test instead of the run. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (dd, ls, python3 …) against a mount, bounded in time. */
export function run(file: string, args: string[], ms = WAIT_MS): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: ms, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function isMounted(dir: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table.split('\n').some((line) => line.split(' ')[4] === dir);
}

export interface ServerEvent {
  event: 'mounted' | 'error' | 'stats' | 'unmounted';
  dir?: string;
  name?: string;
  code?: string;
  message?: string;
  writeSizes?: number[];
  readSizes?: number[];
  calls?: Record<string, number>;
}

/** A child serving a MemoryFs at `dir`. */
export class DoubleServer {
  readonly child: ChildProcess;
  readonly dir: string;
  private stderrText = '';
  private readonly events: ServerEvent[] = [];
  private readonly waiters: Array<() => void> = [];

  constructor(dir: string, flags: string[]) {
    this.dir = dir;
    this.child = fork(distScript(SERVE_DOUBLE), [dir, ...flags], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrText += chunk.toString();
    });
    this.child.on('message', (message: ServerEvent) => {
      this.events.push(message);
      this.waiters.splice(0).forEach((wake) => wake());
    });
    this.child.on('exit', () => this.waiters.splice(0).forEach((wake) => wake()));
    servers.add(this);
  }

  get stderr(): string {
    return this.stderrText;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The next event of one of `kinds`, taken off the queue. */
  async next(kinds: ServerEvent['event'][], ms = WAIT_MS): Promise<ServerEvent> {
    const deadline = Date.now() + ms;
    while (true) {
      const i = this.events.findIndex((e) => kinds.includes(e.event));
      if (i >= 0) return this.events.splice(i, 1)[0];
      if (!this.alive) {
        const status = this.child.exitCode ?? this.child.signalCode;
        throw new Error(`server exited (${status}) waiting for ${kinds}: ${this.stderrText}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${kinds} from the server: ${this.stderrText}`);
      await new Promise<void>((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, 200);
      });
    }
  }

  async stats(): Promise<ServerEvent> {
    this.command('stats');
    return this.next(['stats']);
  }

  async unmount(): Promise<ServerEvent> {
    this.command('unmount');
    return this.next(['unmounted', 'error']);
  }

  // A server that just exited can't take commands; next() then reports the exit.
  private command(cmd: string): void {
    if (this.child.connected) this.child.send({ cmd }, () => undefined);
  }

  async exited(ms = WAIT_MS): Promise<number | string | null> {
    if (this.alive) await within(new Promise((done) => this.child.once('exit', done)), 'server exit', ms);
    return this.child.exitCode ?? this.child.signalCode;
  }
}

const servers = new Set<DoubleServer>();

/** Starts a MemoryFs server on `dir` and returns it with its first event (mounted or error). */
export async function serveDouble(dir: string, flags: string[] = []): Promise<[DoubleServer, ServerEvent]> {
  const server = new DoubleServer(dir, flags);
  return [server, await server.next(['mounted', 'error'])];
}

/** Unmounts (politely, then by force) and kills every server started so far. */
export async function stopServers(): Promise<void> {
  // Newest first: a later server may be serving the directory an earlier, crashed one left dead.
  for (const server of [...servers].reverse()) {
    servers.delete(server);
    if (server.alive && server.child.connected) {
      await within(server.unmount(), 'unmount', 10_000).catch(() => undefined);
    }
    if (server.alive) server.child.kill('SIGKILL');
    await server.exited(5_000).catch(() => undefined);
    if (await isMounted(server.dir)) await run('fusermount', ['-uz', server.dir], 5_000);
  }
}

/** A fresh temp directory, removed (after unmounting anything on it) when the file's tests end. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `cairn-fuse-${prefix}-`));
  dirs.push(dir);
  return dir;
}

const dirs: string[] = [];

/** Registers the cleanup every FUSE test file needs. */
export function cleanUpAfterEach(): void {
  afterEach(stopServers, 30_000);
  afterAll(async () => {
    await stopServers();
    for (const dir of dirs.splice(0)) {
      if (await isMounted(dir)) await run('fusermount', ['-uz', dir], 5_000);
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
}
