/**
 * Dropping a written shard file's pages from the page cache, through the
 * small native helper in native/pagecache.c (Node has no posix_fadvise).
 * Shards are written once and read rarely (a mount caches plaintext
 * blocks), so their pages are only memory the kernel must find: fresh pages
 * for every new shard cost a write more CPU than the write itself (on a
 * virtual machine that reports free pages to its host, a host fault per
 * page). Without the helper (not built, or built for another machine) shards
 * stay cached: slower, nothing else changes.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '../repo/index.js';

interface PageCacheHelper {
  /** posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); 0 or the errno. */
  dropCache(fd: number): number;
}

/** Where scripts/setup.mjs builds the helper. */
export const PAGE_CACHE_HELPER = join(repoRoot(), 'native', 'build', 'pagecache.node');

/** The helper at `path`, or why there is none. */
export function loadPageCacheHelper(path: string): { helper?: PageCacheHelper; problem?: string } {
  if (!existsSync(path)) return { problem: `${path} is missing (npm run setup builds it with cc and Node's headers)` };
  try {
    const helper = createRequire(import.meta.url)(path) as Partial<PageCacheHelper>;
    if (typeof helper.dropCache !== 'function') return { problem: `${path} has no dropCache` };
    return { helper: helper as PageCacheHelper };
  } catch (error) {
    // A file built for another machine (a shared checkout) must not stop the stores from working.
    return { problem: `${path} does not load: ${(error as Error).message}` };
  }
}

const { helper, problem } = loadPageCacheHelper(PAGE_CACHE_HELPER);

/** Whether written shard files leave the page cache (the helper loaded). */
export const dropsPageCache = helper !== undefined;

/** Why they do not, when they do not. */
export const pageCacheProblem = problem;

/**
 * Asks the kernel to drop the file's cached pages. Only clean pages go, so
 * call it once the bytes are on disk; a refusal is harmless (the pages stay).
 */
export function dropCachedPages(fd: number): void {
  helper?.dropCache(fd);
}
