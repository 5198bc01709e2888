import { expect } from 'vitest';
import type { CairnError } from '../../src/errors/index.js';

/** Assertions the conformance suites share. */

export function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function failure(promise: Promise<unknown>): Promise<CairnError> {
  return promise.then(
    () => expect.fail('expected the operation to fail'),
    (error: unknown) => error as CairnError,
  );
}

export function expectError(error: unknown, type: abstract new (...args: never[]) => CairnError, code: string): void {
  expect(error).toBeInstanceOf(type);
  expect((error as CairnError).code).toBe(code);
}

/** A claimed capability whose hook is missing is a broken harness, not a skipped test. */
export function hook<T>(name: string, fn: T | undefined, what: string): T {
  if (fn === undefined) throw new Error(`${name} claims a capability but its harness has no ${what}()`);
  return fn;
}
