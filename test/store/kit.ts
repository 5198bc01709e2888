import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { shardId } from '../../src/crypto/index.js';
import type { ShardStore } from '../../src/store/index.js';

/**
 * What a backend's own tests (beside the conformance suite) need: temp
 * directories and open stores that are removed and closed after each test,
 * pass or fail, and shards made from text.
 */
export function storeTestKit<O, S extends ShardStore>(prefix: string, open: (dir: string, options?: O) => Promise<S>) {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    /** Runs `fn` after this test, pass or fail (newest first). */
    onCleanup: (fn: () => Promise<unknown>) => {
      cleanups.push(fn);
    },
    dirForTest: async () => {
      const dir = await mkdtemp(join(tmpdir(), `cairn-${prefix}-`));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      return dir;
    },
    openForTest: async (dir: string, options?: O) => {
      const store = await open(dir, options);
      cleanups.push(() => store.close());
      return store;
    },
    shard: (text: string) => {
      const bytes = new TextEncoder().encode(text);
      return { id: shardId(bytes), bytes };
    },
  };
}

/** Flips the first byte of a file (or the byte at `offset`) in place, as rot at rest would (a shard file of a store that keeps shards as files). */
export async function flipFirstByte(path: string, offset = 0): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, offset);
    byte[0] ^= 0xff;
    await file.write(byte, 0, 1, offset);
  } finally {
    await file.close();
  }
}
