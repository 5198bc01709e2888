/** A full peer refuses puts; the writer places the shard on another peer instead of degrading the stripe. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newKey, shardId } from '../../src/crypto/index.js';
import { StoreFullError } from '../../src/store/index.js';
import { BlockKind, decodeDescriptor, openStripe, sealStripe } from '../../src/stripe/index.js';
import { Backend } from '../../src/volume/index.js';
import { TestCluster, startTestnet, type Testnet } from '../helpers/peers.js';

let testnet: Testnet;
let cluster: TestCluster;
beforeAll(async () => {
  testnet = await startTestnet();
  cluster = new TestCluster(testnet);
});
afterAll(async () => {
  await cluster?.cleanup();
  await testnet?.destroy();
});

it('stores every shard of every stripe, none on the full peer, and reads them back', async () => {
  const peers = await Promise.all([
    cluster.startPeer({ zone: 'a', capacity: 1024 }),
    cluster.startPeer({ zone: 'b' }),
    cluster.startPeer({ zone: 'c' }),
    cluster.startPeer({ zone: 'd' }),
  ]);
  const network = cluster.network();
  const stores = peers.map((p) => cluster.store(p, network));
  const full = stores[0];
  const tiny = randomBytes(2048);
  await expect(full.put(shardId(tiny), tiny)).rejects.toBeInstanceOf(StoreFullError);
  const backend = new Backend(stores, new Map(stores.map((s, i) => [s.id, { zone: peers[i].options.zone, up: () => s.up }])));
  const keys = { key: newKey(), volumeId: randomBytes(16) };
  for (let i = 0; i < 12; i++) {
    const block = randomBytes(64 * 1024);
    const ref = await backend.putStripe(await sealStripe(block, { ...keys, kind: BlockKind.Data, k: 2, m: 1 }));
    expect(ref.stores.filter(Boolean)).toHaveLength(3);
    expect(ref.stores).not.toContain(full.id);
    expect(new Set(ref.stores).size).toBe(3);
    const d = decodeDescriptor(ref.descriptor);
    const shards = await Promise.all(ref.stores.map((id, x) => backend.store(id)!.get(d.shardIds[x])));
    expect(Buffer.from((await openStripe(d, shards, keys)).block).equals(block)).toBe(true);
  }
  expect((await full.stat()).shards).toBe(0);
});
