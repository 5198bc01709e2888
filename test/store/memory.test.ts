import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors/index.js';
import { MemoryStore } from '../../src/store/index.js';
import { shardStoreConformance } from './conformance.js';

shardStoreConformance(
  'MemoryStore',
  async ({ capacity }) => {
    const store = new MemoryStore({ capacity });
    return { store, cleanup: () => store.close() };
  },
  // Memory has no bytes at rest to damage and nothing to reopen.
  { persistent: false, corruptible: false, capacity: true },
);

describe('MemoryStore', () => {
  it('takes its id from the options, or makes a distinct one', () => {
    expect(new MemoryStore({ id: 'mem-a' }).id).toBe('mem-a');
    expect(new MemoryStore().id).not.toBe(new MemoryStore().id);
  });

  it('rejects a capacity that is not a whole number of bytes', () => {
    for (const capacity of [-1, 1.5, Number.NaN]) {
      expect(() => new MemoryStore({ capacity })).toThrow(UsageError);
    }
  });
});
