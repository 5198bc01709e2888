import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newKey, volumeKeys } from '../../src/crypto/index.js';
import { place } from '../../src/placement/index.js';
import { LocalStore, MemoryStore, type ShardStore } from '../../src/store/index.js';
import { BlockKind, openStripe, sealStripe } from '../../src/stripe/index.js';
import { tempDir } from '../helpers/tmp.js';

const MARKER = 'CAIRN-PLAINTEXT-MARKER-7f3a9c';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile());
}

describe('what stores see (promise 1)', () => {
  const dir = tempDir('confidential');
  const stores: ShardStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  it('a marker sealed and put on local stores appears in no file, in any encoding, and the block comes back', async () => {
    for (let i = 0; i < 6; i++) stores.push(await LocalStore.open(join(dir, `store-${i}`)));
    const infos = stores.map((s, i) => ({ id: s.id, zone: `z${i % 3}`, capacity: null, used: 0, up: true }));
    const keys = { volumeId: new Uint8Array(16).fill(7), key: volumeKeys(newKey()).encryption };
    // Repetitive text is what a careless format would leak: a marker in many blocks, many times each.
    const block = new TextEncoder().encode(`${MARKER} file name: secret-plans.txt\n`.repeat(2000));
    const sealed = await sealStripe(block, { ...keys, kind: BlockKind.Data, k: 4, m: 2 });
    const where = place(sealed.descriptor.shardIds[0], infos, { k: 4, m: 2 }, { shardSize: sealed.shards[0].length });
    const byId = new Map(stores.map((s) => [s.id, s]));
    await Promise.all(
      sealed.shards.map((shard, i) => byId.get(where.stores[i] as string)!.put(sealed.descriptor.shardIds[i], shard)),
    );
    await Promise.all(stores.map((s) => s.close()));

    const needles = [MARKER, 'secret-plans'].flatMap((t) => [Buffer.from(t, 'utf8'), Buffer.from(t, 'utf16le')]);
    const files = filesUnder(dir);
    expect(files.length).toBeGreaterThan(6);
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const needle of needles) expect(bytes.includes(needle), `${file} holds plaintext`).toBe(false);
    }

    const reopened = await Promise.all(stores.map((_, i) => LocalStore.open(join(dir, `store-${i}`))));
    stores.splice(0, stores.length, ...reopened);
    const reopenedById = new Map(reopened.map((s) => [s.id, s]));
    const shards = await Promise.all(
      sealed.descriptor.shardIds.map((id, i) => reopenedById.get(where.stores[i] as string)!.get(id)),
    );
    expect(Buffer.compare((await openStripe(sealed.descriptor, shards, keys)).block, block)).toBe(0);
  });

  it('a memory store holds only bytes without the marker', async () => {
    const store = new MemoryStore();
    const keys = { volumeId: new Uint8Array(16), key: newKey() };
    const sealed = await sealStripe(new TextEncoder().encode(MARKER.repeat(100)), { ...keys, kind: BlockKind.Metadata, k: 2, m: 1 });
    await Promise.all(sealed.shards.map((s, i) => store.put(sealed.descriptor.shardIds[i], s)));
    for (const id of sealed.descriptor.shardIds) {
      expect(Buffer.from(await store.get(id)).includes(Buffer.from(MARKER))).toBe(false);
    }
  });
});
