import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The checkout this code runs from, found by walking up to cairn's
 * package.json: the same answer from src/ (tests) and dist/src/ (the CLI).
 */
export function repoRoot(from: string = import.meta.url): string {
  for (let dir = new URL('.', from); dir.pathname !== '/'; dir = new URL('..', dir)) {
    const file = new URL('package.json', dir);
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'cairn') {
      return fileURLToPath(dir);
    }
  }
  throw new Error(`cannot find the cairn checkout above ${from}`);
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(`${repoRoot()}/package.json`, 'utf8')) as { version: string }).version;
}
export { lazyRequire } from './lazy.js';
