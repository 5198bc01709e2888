/**
 * The mount point's lifecycle outside the binding: checking it before a
 * mount, clearing what a crashed run left behind, and unmounting. Only async
 * calls touch the directory: the process serving a mount must never block its
 * JS thread in a system call on that mount (the kernel would wait for the very
 * thread that waits for the kernel).
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { MountPointBusyError, MountPointError, UnmountError } from './errors.js';

const FUSERMOUNT_TIMEOUT_MS = 10_000;
// A busy mount point (a shell cd'ed into it, a file still open) often frees
// itself within moments, e.g. when the container using it finishes exiting.
const BUSY_RETRIES = 5;
const BUSY_RETRY_DELAY_MS = 200;

interface Outcome {
  ok: boolean;
  stderr: string;
}

function fusermount(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile('fusermount', args, { timeout: FUSERMOUNT_TIMEOUT_MS }, (err, _stdout, stderr) => {
      resolve({ ok: err === null, stderr: String(stderr).trim() || (err?.message ?? '') });
    });
  });
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
const unescapeMountPath = (field: string): string =>
  field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** Whether `dir` (absolute, resolved) is the mount point of anything, dead FUSE mounts included. */
export async function isMountPoint(dir: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table.split('\n').some((line) => {
    const field = line.split(' ')[4];
    return field !== undefined && unescapeMountPath(field) === dir;
  });
}

const DEAD_MOUNT_CODES = new Set(['ENOTCONN', 'ECONNABORTED']);
const errorCode = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;

/**
 * Readies `dir` for a mount: clears a dead FUSE mount left by a crashed run
 * (its server is gone, so stat fails with ENOTCONN), then refuses anything
 * that is not an empty directory, unless `force` allows a non-empty one.
 */
export async function prepareMountPoint(dir: string, force: boolean): Promise<void> {
  let info;
  try {
    info = await stat(dir);
  } catch (err) {
    if (DEAD_MOUNT_CODES.has(errorCode(err) as string)) {
      await clearDeadMount(dir);
      info = await stat(dir);
    } else if (errorCode(err) === 'ENOENT') {
      throw new MountPointError(`mount point ${dir} does not exist; create it first (mkdir -p ${dir})`);
    } else {
      throw err;
    }
  }
  if (!info.isDirectory()) throw new MountPointError(`mount point ${dir} is not a directory`);
  if (await isMountPoint(dir)) {
    throw new MountPointBusyError(`${dir} is already a mount point; unmount it first (fusermount -u ${dir})`);
  }
  if (!force && (await readdir(dir)).length > 0) {
    throw new MountPointBusyError(`${dir} is not empty; use --force to mount over it`);
  }
}

async function clearDeadMount(dir: string): Promise<void> {
  const { ok, stderr } = await fusermount(['-uz', dir]);
  if (!ok) throw new UnmountError(`${dir} is a dead mount from a crashed run and could not be cleared: ${stderr}`);
}

/**
 * Unmounts `dir`. A busy mount point is retried briefly, then detached
 * lazily: it disappears from the tree at once and the kernel lets go of it
 * once the last open file is closed. Already unmounted counts as done.
 */
export async function unmountDir(dir: string): Promise<void> {
  for (let attempt = 0; attempt <= BUSY_RETRIES; attempt++) {
    if ((await fusermount(['-u', dir])).ok || !(await isMountPoint(dir))) return;
    if (attempt < BUSY_RETRIES) await sleep(BUSY_RETRY_DELAY_MS);
  }
  const lazy = await fusermount(['-uz', dir]);
  if (!lazy.ok && (await isMountPoint(dir))) throw new UnmountError(`could not unmount ${dir}: ${lazy.stderr}`);
}
