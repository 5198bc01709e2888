import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BOOT_ID, errorCode, ifMissing, processAlive } from './fsio.js';

/**
 * A lock between processes of this machine, held for a few milliseconds
 * around a read-check-write of small files. Node has no flock, so the lock
 * is a file created with O_EXCL (`wx`): exactly one creator wins, on every
 * local file system. A lock whose owner died is broken once it is old.
 */

export interface LockOptions {
  signal?: AbortSignal;
  /** Give up after this long (a live owner holding it this long is stuck). */
  waitMs: number;
  /** A lock at least this old whose owner is dead is broken. */
  staleMs: number;
}

interface Owner {
  pid: number;
  boot?: string;
  nonce: string;
}

/** Waiting for a lock took longer than LockOptions.waitMs. */
export class LockTimeoutError extends Error {}

export async function withLockFile<T>(path: string, options: LockOptions, work: () => Promise<T>): Promise<T> {
  const nonce = await acquire(path, options);
  try {
    return await work();
  } finally {
    await release(path, nonce);
  }
}

async function acquire(path: string, { signal, waitMs, staleMs }: LockOptions): Promise<string> {
  const owner: Owner = { pid: process.pid, boot: BOOT_ID, nonce: randomBytes(8).toString('hex') };
  const deadline = Date.now() + waitMs;
  // Short first: the holder is usually done within a couple of milliseconds.
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    signal?.throwIfAborted();
    if (await tryCreate(path, owner)) return owner.nonce;
    if (await breakIfStale(path, staleMs)) continue;
    if (Date.now() >= deadline) throw new LockTimeoutError(await describe(path, waitMs));
    // Jitter keeps two waiters from retrying in lockstep.
    await sleep(delay * (0.5 + Math.random()), undefined, { signal });
  }
}

async function tryCreate(path: string, owner: Owner): Promise<boolean> {
  let file;
  try {
    file = await open(path, 'wx');
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
  try {
    await file.writeFile(JSON.stringify(owner));
  } catch (error) {
    // A lock nobody can identify is only broken once stale; give it back now.
    await file.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw error;
  }
  await file.close();
  return true;
}

async function release(path: string, nonce: string): Promise<void> {
  // Only our own: should ours ever have been broken, the file there now is someone else's lock.
  const owner = await readOwner(path);
  if (owner?.nonce === nonce) await unlink(path).catch(() => undefined);
}

/**
 * Breaks the lock when it is old and its owner is gone (died, or from before
 * a reboot), or when it is old and empty (its creator died before writing
 * it). Returns whether the lock is gone, so the caller retries at once.
 */
async function breakIfStale(path: string, staleMs: number): Promise<boolean> {
  const judged = await stat(path).catch(ifMissing);
  if (judged === undefined) return true;
  if (Date.now() - judged.mtimeMs < staleMs) return false;
  const owner = await readOwner(path);
  if (owner !== undefined && alive(owner)) return false;
  // Two breakers may judge the same stale lock, and one may already have
  // replaced it with a fresh lock of its own. So move the file aside first
  // and check it is the very file judged (same inode and time) before
  // deleting it; if not, put the fresh lock back.
  const aside = `${path}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return true;
    throw error;
  }
  const moved = await stat(aside);
  const same = moved.ino === judged.ino && moved.mtimeMs === judged.mtimeMs;
  if (!same) await link(aside, path).catch(() => undefined);
  await unlink(aside);
  return same;
}

function alive(owner: Owner): boolean {
  if (owner.boot !== undefined && BOOT_ID !== undefined && owner.boot !== BOOT_ID) return false;
  return processAlive(owner.pid);
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    const owner = JSON.parse(await readFile(path, 'utf8')) as Partial<Owner>;
    return typeof owner.pid === 'number' && typeof owner.nonce === 'string' ? (owner as Owner) : undefined;
  } catch {
    return undefined;
  }
}

async function describe(path: string, waitMs: number): Promise<string> {
  const owner = await readOwner(path);
  const who = owner === undefined ? 'an unknown process' : `process ${owner.pid}`;
  return `the lock ${path} is held by ${who} and was not released within ${waitMs} ms`;
}
