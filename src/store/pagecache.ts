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
import { loadNativeHelper, nativeHelperPath } from '../native/index.js';

interface PageCacheHelper {
  /** posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); 0 or the errno. */
  dropCache(fd: number): number;
}

/** Where scripts/setup.mjs builds the helper. */
export const PAGE_CACHE_HELPER = nativeHelperPath('pagecache');

/** The helper at `path`, or why there is none. */
export const loadPageCacheHelper = (path: string) => loadNativeHelper<PageCacheHelper>(path, 'dropCache');

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
