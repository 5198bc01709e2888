// Real runc, real containers. These tests need root and runc (`npm run setup`
// installs it) and fail, rather than skip, without them.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '../../src/errors/index.js';
import {
  buildRootfs,
  ContainerAbortedError,
  type ContainerSpec,
  InvalidContainerSpecError,
  MountSourceMissingError,
  RootfsMissingError,
  runContainer,
  RuncMissingError,
} from '../../src/scheduler/index.js';
import { tempDir } from '../helpers/tmp.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/run-container.mjs', import.meta.url));

let rootfs: string;
beforeAll(async () => {
  rootfs = (await buildRootfs()).dir;
});

// tempDir() registers its removal with afterAll, so it is called once here;
// tests make their directories inside.
const SCRATCH = tempDir('scheduler');
const scratch = (prefix: string) => mkdtempSync(join(SCRATCH, `${prefix}-`));

/** A runc state root of the test's own, so listing it shows exactly the test's containers. */
const freshRuncRoot = () => scratch('runc');

function listContainers(runcRoot: string): { id: string; status: string }[] {
  // stderr piped: runc complains about containers it catches half-created, which polling does.
  const out = execFileSync('runc', ['--root', runcRoot, 'list', '--format', 'json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (JSON.parse(out) as { id: string; status: string }[] | null) ?? [];
}

/** runc lists nothing, and not even a half-written state directory is left. */
function expectNoRuncState(runcRoot: string): void {
  expect(listContainers(runcRoot)).toEqual([]);
  expect(readdirSync(runcRoot)).toEqual([]);
}

async function waitUntilRunning(runcRoot: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const running = listContainers(runcRoot).find((c) => c.status === 'running');
    if (running) return running.id;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no container came up under ${runcRoot}`);
}

/** The pid of the `runc run` process (our child) for container `id`. */
function runcRunPid(id: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes('run') && argv.includes(id)) return Number(entry);
    } catch {
      // exited while we looked
    }
  }
  throw new Error(`no runc run process for ${id}`);
}

// When a cleanup test fails, its container may still run: remove it before its state directory goes.
afterAll(() => {
  for (const entry of readdirSync(SCRATCH).filter((e) => e.startsWith('runc-'))) {
    const runcRoot = join(SCRATCH, entry);
    for (const { id } of listContainers(runcRoot)) execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id]);
  }
});

const uniqueName = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const bundlesNamed = (dir: string, name: string) => readdirSync(dir).filter((entry) => entry.includes(name));

function run(spec: Omit<ContainerSpec, 'rootfs'> & { rootfs?: string }) {
  return runContainer({ rootfs, runcRoot: freshRuncRoot(), stdio: 'pipe', ...spec });
}

describe('the host', () => {
  it('runs as root and has runc (these tests need both)', () => {
    expect(process.getuid?.(), 'containers need root').toBe(0);
    expect(() => execFileSync('runc', ['--version']), 'runc is missing: npm run setup').not.toThrow();
  });
});

describe('runContainer', () => {
  it('captures stdout and stderr separately', async () => {
    const r = await run({ command: ['sh', '-c', 'echo hello from a container; echo oops >&2'] });
    expect(r).toEqual({ exitCode: 0, stdout: 'hello from a container\n', stderr: 'oops\n' });
  });

  it('propagates the exit code', async () => {
    const r = await run({ command: ['sh', '-c', 'exit 7'] });
    expect(r.exitCode).toBe(7);
    expect(r.signal).toBeUndefined();
  });

  it('shares files through a bind mount: one container writes, the next reads', async () => {
    const host = scratch('data');
    const mounts = [{ source: host, target: '/data' }];
    const write = await run({ command: ['sh', '-c', 'echo persisted > /data/note.txt'], mounts });
    expect(write.exitCode).toBe(0);
    expect(readFileSync(join(host, 'note.txt'), 'utf8')).toBe('persisted\n');
    const read = await run({ command: ['cat', '/data/note.txt'], mounts });
    expect(read).toMatchObject({ exitCode: 0, stdout: 'persisted\n' });
  });

  it('makes a read-only mount refuse writes with EROFS, and still read', async () => {
    const host = scratch('ro');
    writeFileSync(join(host, 'existing'), 'readable\n');
    const r = await run({
      command: ['sh', '-c', 'cat /data/existing; touch /data/new'],
      mounts: [{ source: host, target: '/data', readOnly: true }],
    });
    expect(r.stdout).toBe('readable\n');
    expect(r.stderr).toContain('touch: /data/new: Read-only file system');
    expect(r.exitCode).toBe(1);
    expect(existsSync(join(host, 'new'))).toBe(false);
  });

  it('keeps the rootfs read-only, with a writable /tmp', async () => {
    const r = await run({ command: ['sh', '-c', 'touch /etc/x; echo scratch > /tmp/x && cat /tmp/x'] });
    expect(r.stderr).toContain('touch: /etc/x: Read-only file system');
    expect(r).toMatchObject({ exitCode: 0, stdout: 'scratch\n' });
  });

  it('sets env (over the default PATH and HOME) and cwd', async () => {
    const r = await run({
      command: ['sh', '-c', 'echo "$GREETING|$HOME|$PATH"; pwd'],
      env: { GREETING: 'hi there', HOME: '/tmp' },
      cwd: '/etc',
    });
    expect(r.stdout).toBe('hi there|/tmp|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/etc\n');
  });

  it('runs in its own pid namespace: pid 1 is our command, host processes are invisible', async () => {
    const r = await run({ command: ['sh', '-c', 'echo $$; tr "\\0" " " < /proc/1/cmdline; echo; ps -o pid,comm'] });
    const [pid, cmdline, ...ps] = r.stdout!.trim().split('\n');
    expect(pid).toBe('1');
    expect(cmdline).toContain('sh -c echo $$;');
    const pids = ps.slice(1).map((line) => Number(line.trim().split(/\s+/)[0]));
    expect(pids).toContain(1);
    // Only the shell and what it started: nothing from the host (whose pid 1 is another program).
    expect(pids.length).toBeLessThanOrEqual(3);
    expect(pids).not.toContain(process.pid);
  });

  it('has a network namespace with loopback only, and its name in the hostname', async () => {
    const r = await run({ name: 'net-check', command: ['sh', '-c', 'ls /sys/class/net; hostname'] });
    const [ifaces, hostname] = r.stdout!.trim().split('\n');
    expect(ifaces).toBe('lo');
    expect(hostname).toMatch(/^cairn-net-check-[0-9a-f]{12}$/);
  });

  it('leaves no state behind and no signal handlers after a normal run', async () => {
    const runcRoot = freshRuncRoot();
    const name = uniqueName('normal');
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    await runContainer({ rootfs, runcRoot, name, stdio: 'pipe', command: ['true'] });
    expectNoRuncState(runcRoot);
    expect(bundlesNamed(tmpdir(), name)).toEqual([]);
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });

  it('removes the container even when `runc run` itself dies (e.g. to the OOM killer)', async () => {
    const runcRoot = freshRuncRoot();
    const running = runContainer({ rootfs, runcRoot, stdio: 'pipe', command: ['sleep', '100'] });
    const id = await waitUntilRunning(runcRoot);
    process.kill(runcRunPid(id), 'SIGKILL');
    // The container outlives runc run; only our `runc delete --force` removes it.
    expect(await running).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    expectNoRuncState(runcRoot);
    expect(bundlesNamed(tmpdir(), id)).toEqual([]);
  });

  it('reports a command missing from the rootfs as a failed run with runc’s message', async () => {
    const r = await run({ command: ['no-such-program'] });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('executable file not found');
  });
});

describe('aborting', () => {
  it('kills a running container promptly and removes its state and bundle', async () => {
    const runcRoot = freshRuncRoot();
    const name = uniqueName('abort');
    const controller = new AbortController();
    const { signal } = controller;
    const running = runContainer({ rootfs, runcRoot, name, stdio: 'pipe', command: ['sleep', '100'], signal });
    const id = await waitUntilRunning(runcRoot);
    expect(existsSync(join(tmpdir(), id))).toBe(true);
    const start = Date.now();
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(ContainerAbortedError);
    expect(Date.now() - start).toBeLessThan(3000);
    expectNoRuncState(runcRoot);
    expect(bundlesNamed(tmpdir(), name)).toEqual([]);
  });

  // Aborts landing before the bundle is written, while runc creates the container, and as it starts.
  it.each([0, 5, 15, 30, 60, 120])('cleans up when aborted %i ms into the run', async (ms) => {
    const runcRoot = freshRuncRoot();
    const name = uniqueName('early');
    const controller = new AbortController();
    const { signal } = controller;
    const running = runContainer({ rootfs, runcRoot, name, stdio: 'pipe', command: ['sleep', '100'], signal });
    setTimeout(() => controller.abort(), ms);
    await expect(running).rejects.toBeInstanceOf(ContainerAbortedError);
    expectNoRuncState(runcRoot);
    expect(bundlesNamed(tmpdir(), name)).toEqual([]);
  });

  it('starts nothing when already aborted', async () => {
    const runcRoot = freshRuncRoot();
    const r = runContainer({ rootfs, runcRoot, command: ['true'], signal: AbortSignal.abort() });
    await expect(r).rejects.toBeInstanceOf(ContainerAbortedError);
    expect(readdirSync(runcRoot)).toEqual([]);
  });
});

describe('SIGINT/SIGTERM to our process', () => {
  const children = new Set<ChildProcess>();
  // A fixture left running by a failed test would keep its container running too.
  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children.clear();
  });

  /** Runs the fixture: runContainer(spec) in a process of its own, its temp dir (and so bundles) in `tmp`. */
  function fixture(spec: ContainerSpec, tmp: string, args: string[] = []) {
    const child: ChildProcess = spawn(process.execPath, [FIXTURE, JSON.stringify(spec), ...args], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.add(child);
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal, stdout })),
    );
    return { child, done };
  }

  it.each(['SIGINT', 'SIGTERM'] as const)('forwards %s to the container, cleans up, then dies of it', async (sig) => {
    const runcRoot = freshRuncRoot();
    const tmp = scratch('fixture-tmp');
    const host = scratch('term');
    const name = sig.slice(3);
    const script = `trap "echo got ${name} > /data/got; exit 3" ${name}; sleep 100 & wait`;
    const { child, done } = fixture(
      { rootfs, runcRoot, command: ['sh', '-c', script], mounts: [{ source: host, target: '/data' }], stdio: 'pipe' },
      tmp,
    );
    await waitUntilRunning(runcRoot);
    const start = Date.now();
    child.kill(sig);
    const exit = await done;
    expect(exit.signal).toBe(sig);
    expect(Date.now() - start).toBeLessThan(3000);
    expect(readFileSync(join(host, 'got'), 'utf8')).toBe(`got ${name}\n`);
    expectNoRuncState(runcRoot);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('kills a container ignoring the signal after stopTimeoutMs; a program handling it carries on', async () => {
    const runcRoot = freshRuncRoot();
    const tmp = scratch('fixture-tmp');
    // sleep as pid 1 has no handler, and pid 1 ignores signals it does not handle.
    const { child, done } = fixture(
      { rootfs, runcRoot, command: ['sleep', '100'], stdio: 'pipe', stopTimeoutMs: 300 },
      tmp,
      ['--own-handler'],
    );
    await waitUntilRunning(runcRoot);
    const start = Date.now();
    child.kill('SIGTERM');
    const exit = await done;
    expect(exit.code).toBe(0);
    expect(JSON.parse(exit.stdout)).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    expect(Date.now() - start).toBeGreaterThanOrEqual(300);
    expect(Date.now() - start).toBeLessThan(3000);
    expectNoRuncState(runcRoot);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('streams output through with stdio inherit (the default)', async () => {
    const tmp = scratch('fixture-tmp');
    const { done } = fixture({ rootfs, runcRoot: freshRuncRoot(), command: ['echo', 'streamed'] }, tmp);
    const exit = await done;
    expect(exit.code).toBe(0);
    expect(exit.stdout).toBe('streamed\n{"exitCode":0}');
  });
});

describe('errors before anything starts', () => {
  it('names a missing runc and how to install it', async () => {
    const err = await run({ command: ['true'], runc: '/nonexistent/runc' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuncMissingError);
    expect(err).toBeInstanceOf(CairnError);
    expect((err as RuncMissingError).message).toMatch(/npm run setup.*apt-get install runc/);
  });

  it('names a missing rootfs', async () => {
    const missing = join(scratch('nothing'), 'rootfs');
    const err = await run({ rootfs: missing, command: ['true'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RootfsMissingError);
    expect((err as CairnError).code).toBe('scheduler.rootfs-missing');
  });

  it('names a mount source that does not exist, and creates no state', async () => {
    const runcRoot = freshRuncRoot();
    const source = join(scratch('nothing'), 'gone');
    const r = runContainer({ rootfs, runcRoot, command: ['true'], mounts: [{ source, target: '/data' }] });
    await expect(r).rejects.toThrow(MountSourceMissingError);
    await expect(r).rejects.toThrow(source);
    expect(readdirSync(runcRoot)).toEqual([]);
  });

  it('refuses specs that cannot be a valid container', async () => {
    const dir = scratch('spec');
    mkdirSync(join(dir, 'x'));
    for (const spec of [
      { command: [] },
      { command: ['true'], cwd: 'relative' },
      { command: ['true'], name: 'bad name' },
      { command: ['true'], env: { 'A=B': 'c' } },
      { command: ['true'], mounts: [{ source: dir, target: '/data/../etc' }] },
      { command: ['true'], mounts: [{ source: dir, target: '/' }] },
    ]) {
      await expect(run(spec)).rejects.toBeInstanceOf(InvalidContainerSpecError);
    }
  });
});
