import { describe, expect, it } from 'vitest';
import { parseCount, parseSize } from '../../src/cli/parse.js';
import { UsageError } from '../../src/errors/index.js';

describe('parseSize', () => {
  it.each([
    ['4096', 4096],
    ['64KiB', 65536],
    ['64k', 65536],
    ['4MiB', 4 * 2 ** 20],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['1MB', 1_000_000],
    ['2 kb', 2000],
  ])('%s = %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'lots', '-1', '0', '4XB', '1e9'])('rejects %j', (text) => {
    expect(() => parseSize(text)).toThrowError(UsageError);
  });
});

describe('parseCount', () => {
  it('takes positive whole numbers only', () => {
    expect(parseCount('3')).toBe(3);
    for (const bad of ['0', '-2', '1.5', 'x', '']) expect(() => parseCount(bad)).toThrowError(UsageError);
  });
});
