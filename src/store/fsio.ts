import { randomBytes } from 'node:crypto';
import { close, constants, fsync, open as openFd, readFileSync, writev } from 'node:fs';
import { link, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { dropCachedPages } from './pagecache.js';

/**
 * File plumbing for FileStore: whole-file replacement that a reader in any
 * process sees either before or after, never half written, and the temp
 * files that make it so.
 */

/** `.<what>.<pid>.<12 hex>.tmp`: never a shard id or volume id, and says which process may still be writing it. */
const TEMP_NAME = /^\..*\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Temp names need only be unique among this process's writers (the pid covers the others): a counter, from a random start. */
let tempCounter = randomBytes(5).readUIntBE(0, 5);

export function tempPathFor(path: string): string {
  tempCounter = (tempCounter + 1) % 2 ** 48;
  return join(dirname(path), `.${basename(path).slice(0, 16)}.${process.pid}.${tempCounter.toString(16).padStart(12, '0')}.tmp`);
}

/** The pid that wrote a temp file, or undefined when `name` is not one of ours. */
export function tempOwner(name: string): number | undefined {
  const match = TEMP_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** For `.catch`: a missing file becomes undefined; other failures (EIO, EACCES) are real and propagate. */
export function ifMissing(error: unknown): undefined {
  if (errorCode(error) === 'ENOENT') return undefined;
  throw error;
}

export function readIfPresent(path: string, signal?: AbortSignal): Promise<Buffer | undefined> {
  return readFile(path, { signal }).catch(ifMissing);
}

export async function readdirIfPresent(path: string): Promise<string[]> {
  return (await readdir(path).catch(ifMissing)) ?? [];
}

// The callback calls, not fs/promises' FileHandle: a shard write is five of
// them, and FileHandle's promise plumbing cost the mount's thread more than
// the writes themselves.
const openAsync = promisify(openFd);
const writevAsync = (fd: number, parts: Uint8Array[]) =>
  new Promise<number>((resolve, reject) => writev(fd, parts, (err, written) => (err ? reject(err) : resolve(written))));
/** Linux takes at most this many buffers in one writev. */
const IOV_MAX = 1024;
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

/** How a new file is written. */
export interface WriteMode {
  /** On disk before the write resolves. */
  sync: boolean;
  /** Then out of the page cache (shard files: written once, read rarely; pagecache.ts says why). Only with sync. */
  uncache?: boolean;
}

/**
 * Creates `path` (failing if it exists) holding `bytes` (or the parts, one
 * after another, in one writev), on disk before this resolves when `sync`:
 * opened O_DSYNC, so each write returns once its data and the file's size are
 * durable (fdatasync's promise) with no fsync call to wait for afterwards.
 */
export async function writeNewFile(path: string, bytes: Uint8Array | readonly Uint8Array[], mode: WriteMode): Promise<void> {
  let parts = bytes instanceof Uint8Array ? [bytes] : bytes.filter((part) => part.length > 0);
  const fd = await openAsync(path, mode.sync ? CREATE | constants.O_DSYNC : CREATE, 0o666);
  try {
    while (parts.length > 0) {
      // A short write leaves the rest of the parts, the first of them cut where the write stopped.
      let written = await writevAsync(fd, parts.slice(0, IOV_MAX));
      let done = 0;
      while (done < parts.length && written >= parts[done].length) written -= parts[done++].length;
      parts = parts.slice(done);
      if (written > 0) parts[0] = parts[0].subarray(written);
    }
    // On disk now (O_DSYNC), so its pages are clean and can go.
    if (mode.sync && mode.uncache) dropCachedPages(fd);
  } finally {
    await closeAsync(fd);
  }
}

/**
 * Creates `path` holding `bytes` unless something is there already (then
 * returns false and changes nothing): written beside it, then linked in,
 * since link, unlike rename, fails when the name exists.
 */
export async function createFileOnce(path: string, bytes: Uint8Array, mode: WriteMode): Promise<boolean> {
  let created = false;
  await viaTemp(path, bytes, mode, async (temp) => {
    created = await link(temp, path).then(
      () => true,
      (error: unknown) => {
        if (errorCode(error) === 'EEXIST') return false;
        throw error;
      },
    );
    // The temp is still there beside the link.
    return false;
  });
  return created;
}

/** A rename or unlink is durable only once its directory is fsynced. */
export async function syncDir(dir: string): Promise<void> {
  const fd = await openAsync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

/**
 * Writes a temp file beside `path`, fsyncs it, and renames it over `path`:
 * rename is atomic, so readers see the old whole file or the new one.
 * `commit` runs just before the rename and may refuse it by throwing.
 */
export async function replaceFile(
  path: string,
  bytes: Uint8Array | readonly Uint8Array[],
  mode: WriteMode,
  commit: (rename: () => Promise<void>) => Promise<void> = (done) => done(),
): Promise<void> {
  await viaTemp(path, bytes, mode, async (temp) => {
    let moved = false;
    await commit(async () => {
      await rename(temp, path);
      moved = true;
    });
    return moved;
  });
}

/**
 * The steps replaceFile and createFileOnce share: a temp file beside `path`
 * written as `mode` says, then `place` puts it at `path` (true when that
 * used the temp up), the temp removed otherwise, and the directory synced.
 */
async function viaTemp(
  path: string,
  bytes: Uint8Array | readonly Uint8Array[],
  mode: WriteMode,
  place: (temp: string) => Promise<boolean>,
): Promise<void> {
  const temp = tempPathFor(path);
  let usedUp = false;
  try {
    await writeNewFile(temp, bytes, mode);
    usedUp = await place(temp);
  } finally {
    if (!usedUp) await unlink(temp).catch(() => undefined);
  }
  if (mode.sync) await syncDir(dirname(path));
}

/** Removes the temp files left in `dir` by processes that have died (a crash mid-write). */
export async function sweepTemps(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const pid = tempOwner(name);
    if (pid !== undefined && pid !== process.pid && !processAlive(pid)) {
      await unlink(join(dir, name)).catch(() => undefined);
    }
  }
}

/**
 * Whether a process of this machine still runs. EPERM means it exists under
 * another user. Wrong only when the pid has been reused, and then it errs
 * towards "alive", which only delays breaking a stale lock.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/** Linux's id of this boot: a lock taken before a reboot is dead whatever its pid says now. */
export const BOOT_ID: string | undefined = (() => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
})();
