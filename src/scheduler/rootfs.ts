/**
 * The busybox rootfs containers run on. The building itself lives in
 * scripts/rootfs.mjs, plain JS, because setup must build it before
 * node_modules (and so TypeScript) exists; this module finds that script from
 * either src/ (tests) or dist/src/ (the compiled CLI).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../repo/index.js';
import type * as RootfsScript from '../../scripts/rootfs.mjs';
import { BusyboxMissingError } from './errors.js';

/** Where setup builds the rootfs: .cache/rootfs in the checkout. */
export function defaultRootfsDir(): string {
  return join(repoRoot(), '.cache', 'rootfs');
}

/**
 * Builds the rootfs at `dir` from a static busybox (default /bin/busybox, from
 * Debian's busybox-static), unless it is already built from that same binary.
 */
export async function buildRootfs(
  dir: string = defaultRootfsDir(),
  options: { busybox?: string } = {},
): Promise<{ dir: string; built: boolean }> {
  // Computed path (not a static import), so it resolves from dist/ as well; vite-ignore tells vitest that is meant.
  const script = (await import(
    /* @vite-ignore */ pathToFileURL(join(repoRoot(), 'scripts', 'rootfs.mjs')).href
  )) as typeof RootfsScript;
  const busybox = options.busybox ?? script.DEFAULT_BUSYBOX;
  if (!existsSync(busybox)) throw new BusyboxMissingError(busybox);
  return script.buildRootfs(dir, { busybox });
}
