import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// A file system that refuses O_DIRECT at open (EINVAL, or another error): the logic under test is the fallback.
const refused = vi.hoisted(() => ({ opens: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    openSync: (path: string, flags: number | string, ...rest: unknown[]) => {
      if (typeof flags === 'number' && (flags & fs.constants.O_DIRECT) !== 0) {
        refused.opens++;
        const code = path.endsWith('.nfs') ? 'EOPNOTSUPP' : 'EINVAL';
        throw Object.assign(new Error(`${code}: refused, open '${path}'`), { code });
      }
      return (fs.openSync as (...a: unknown[]) => number)(path, flags, ...rest);
    },
  };
});

const { rangeReads } = await import('../../src/store/range-reads.js');

describe('range reads where O_DIRECT is refused', () => {
  let dir = '';
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('read through the page cache instead, with the same bytes, whatever the error', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-range-reads-'));
    const path = join(dir, 'pack');
    const bytes = randomBytes(300_000);
    await writeFile(path, bytes);
    const reads = rangeReads(2, 200_000);
    try {
      expect(Buffer.from(reads.read({ path, offset: 1234, length: 200_000 })!)).toEqual(bytes.subarray(1234, 201_234));
      expect(Buffer.from(reads.read({ path, offset: 5, length: 7 })!)).toEqual(bytes.subarray(5, 12));
      expect(reads.read({ path, offset: 299_000, length: 2000 })).toBeUndefined();
    } finally {
      reads.release();
    }
    const other = `${path}.nfs`;
    await writeFile(other, bytes);
    const again = rangeReads(1, 10);
    try {
      expect(Buffer.from(again.read({ path: other, offset: 3, length: 10 })!)).toEqual(bytes.subarray(3, 13));
    } finally {
      again.release();
    }
    expect(refused.opens).toBe(4);
    expect(constants.O_DIRECT).toBeGreaterThan(0);
  });
});
