/** Finding runc, and its short-lived subcommands (kill, delete) against our own state root. */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { RuncMissingError } from './errors.js';

// Debian installs runc in /usr/sbin, which is not in a normal user's PATH.
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The runc binary: `explicit` if given, else the first in PATH or the sbin directories. */
export function findRunc(explicit?: string): string {
  const candidates = explicit
    ? [explicit]
    : [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN].map((dir) => join(dir, 'runc'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next one
    }
  }
  throw new RuncMissingError(explicit ?? 'runc in PATH and /usr/local/sbin, /usr/sbin, /sbin');
}

export interface Runc {
  readonly binary: string;
  /** runc's --root: where it keeps container state. Ours alone, so `list` and `delete` see only our containers. */
  readonly root: string;
}

/** Runs `runc --root ROOT ...args` to completion; failures are returned, not thrown. */
export function runcCommand(runc: Runc, args: readonly string[]): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    execFile(runc.binary, ['--root', runc.root, ...args], (err, _stdout, stderr) =>
      resolve({ ok: err === null, stderr: String(stderr).trim() }),
    );
  });
}
