/**
 * What fuse-native 2.2.6 keeps of a request but drops on its way to
 * JavaScript, read and set through native/fuse-request.c on the per-thread
 * record fuse-native hands JavaScript with every request.
 *
 * Write-only opens as direct I/O. For a file opened O_WRONLY the kernel is
 * told (FOPEN_DIRECT_IO) to pass the writer's bytes straight to the mount
 * rather than copy them into its page cache first: one copy fewer per
 * write, and no fresh page-cache pages, which on a virtual machine that
 * hands free memory back to its host cost a host fault each. Such a
 * descriptor cannot be mmapped (mmap needs read access), so nothing that
 * maps files notices, and opens that may read keep the page cache. Since
 * Linux 6.6 a direct write drops the cached pages it overwrites, so readers
 * on other descriptors see the new bytes.
 *
 * utimens's mtime, which fuse-native replaces with the atime.
 *
 * Without the helper, or if the record is not laid out as it expects,
 * writes take the page cache and utimens sets both times to the atime, as
 * fuse-native alone does; `cairn mount` says so.
 */
import { loadNativeHelper, nativeHelperPath } from '../src/native/index.js';

interface FuseRequestHelper {
  /** 1: marked direct; 0: not write-only, left alone; -1: not an open or create record for `path`. */
  directWrites(locals: Buffer, path: string): number;
  /** The mtime in ms; -1: not a utimens record for `path`. */
  utimensMtime(locals: Buffer, path: string): number;
}

/** Where scripts/setup.mjs builds the helper. */
export const FUSE_REQUEST_HELPER = nativeHelperPath('fuse-request');

/** The helper at `path`, or why there is none. */
export const loadFuseRequestHelper = (path: string) => loadNativeHelper<FuseRequestHelper>(path, 'directWrites');

const loaded = loadFuseRequestHelper(FUSE_REQUEST_HELPER);
let unavailable: string | undefined = loaded.problem;
const RECORD_MISMATCH = "fuse-native's request record is not laid out as native/fuse-request.c expects (another fuse-native version?)";

/** Why requests are answered as fuse-native alone would (page-cache writes, mtime = atime), or undefined. */
export function requestRecordProblem(): string | undefined {
  return unavailable;
}

const helper = (): FuseRequestHelper | undefined => (unavailable ? undefined : loaded.helper);

/**
 * Called with an open or create request's record before it is answered:
 * marks it direct when the file is opened write-only. A record the helper
 * does not recognise turns the helper off for this process.
 */
export function markDirectWrites(locals: Buffer, path: string): void {
  if (helper()?.directWrites(locals, path) === -1) unavailable = RECORD_MISMATCH;
}

/** The mtime a utimens request carries, in ms, or undefined where it cannot be read. */
export function utimensMtime(locals: Buffer, path: string): number | undefined {
  const mtime = helper()?.utimensMtime(locals, path);
  if (mtime === -1) unavailable = RECORD_MISMATCH;
  return mtime === undefined || mtime === -1 ? undefined : mtime;
}
