import { describe, expect, it } from 'vitest';
import { keepSpare, takeSpare } from '../../src/stripe/spares.js';

describe('spare memory on a stripe worker', () => {
  it('a buffer kept twice is handed out once: two seals never share it', () => {
    const buffer = new ArrayBuffer(4096 * 3);
    keepSpare(buffer);
    keepSpare(buffer);
    expect(takeSpare(buffer.byteLength).buffer).toBe(buffer);
    expect(takeSpare(buffer.byteLength).buffer).not.toBe(buffer);
  });

  it('the oldest spares make room for new ones, of any size, within 32 MiB', () => {
    const MiB = 2 ** 20;
    const old = Array.from({ length: 20 }, () => new ArrayBuffer(1.5 * MiB));
    for (const b of old) keepSpare(b);
    const blocks = Array.from({ length: 8 }, () => new ArrayBuffer(MiB));
    for (const b of blocks) keepSpare(b);
    // 30 MiB of 1.5 MiB buffers, then 8 MiB of 1 MiB ones: the four oldest went.
    for (const b of [...blocks].reverse()) expect(takeSpare(MiB).buffer).toBe(b);
    const left = Array.from({ length: 16 }, () => takeSpare(1.5 * MiB).buffer);
    expect(new Set(left)).toEqual(new Set(old.slice(4)));
    expect(old.slice(0, 4)).not.toContain(takeSpare(1.5 * MiB).buffer);
    // Nothing larger than the whole pool is kept.
    const huge = new ArrayBuffer(33 * MiB);
    keepSpare(huge);
    expect(takeSpare(33 * MiB).buffer).not.toBe(huge);
  });
});
