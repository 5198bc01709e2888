/**
 * The small C helpers in native/, which scripts/setup.mjs compiles into
 * native/build/<name>.node with the running Node's headers. Each is an
 * optimisation: without it (not built, or built for another machine) Cairn
 * works the same, slower, so loading one never throws.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '../repo/index.js';

/** Where setup builds native/<name>.c. */
export function nativeHelperPath(name: string): string {
  return join(repoRoot(), 'native', 'build', `${name}.node`);
}

/** The helper at `path`, checked for its function `fn`, or why there is none. */
export function loadNativeHelper<T extends object>(path: string, fn: keyof T & string): { helper?: T; problem?: string } {
  if (!existsSync(path)) return { problem: `${path} is missing (npm run setup builds it with cc and Node's headers)` };
  try {
    const helper = createRequire(import.meta.url)(path) as Partial<T>;
    if (typeof helper[fn] !== 'function') return { problem: `${path} has no ${fn}` };
    return { helper: helper as T };
  } catch (error) {
    return { problem: `${path} does not load: ${(error as Error).message}` };
  }
}
