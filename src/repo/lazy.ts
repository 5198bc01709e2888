import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A dependency loaded the first time it is asked for, not with the module
 * graph: every module a process imports stays in its JavaScript heap, which
 * each full garbage collection walks (a busy mount runs one every few dozen
 * MiB), so a heavy package only some commands use is loaded by those alone.
 */
export function lazyRequire<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(specifier) as T);
}
