/**
 * The ShardStore conformance suite, unchanged, against real peer processes
 * (`cairn peer start`) reached over hyperswarm's DHT on a loopback testnet.
 */
import { afterAll, beforeAll } from 'vitest';
import type { PeerProcess } from '../../src/dev/index.js';
import type { PeerStore } from '../../src/store/peer.js';
import { TestCluster, rot, startTestnet, type Testnet } from '../helpers/peers.js';
import { shardStoreConformance, type StoreHarness } from './conformance.js';

let testnet: Testnet;
beforeAll(async () => {
  testnet = await startTestnet();
});
afterAll(async () => {
  await testnet?.destroy();
});

async function peerHarness(capacity?: number): Promise<StoreHarness> {
  const cluster = new TestCluster(testnet);
  let peer: PeerProcess;
  let store: PeerStore;
  try {
    peer = await cluster.startPeer({ capacity });
    store = cluster.store(peer);
  } catch (err) {
    await cluster.cleanup();
    throw err;
  }
  const network = cluster.network();
  const reopen = async () => {
    await store.close();
    await peer.stop('SIGTERM');
    await peer.start();
    store = cluster.store(peer, network);
    return store;
  };
  return {
    get store() {
      return store;
    },
    reopen,
    async corrupt(id) {
      await rot(peer, id);
    },
    cleanup: () => cluster.cleanup(),
  };
}

shardStoreConformance('PeerStore (peer process over hyperswarm)', ({ capacity }) => peerHarness(capacity), {
  persistent: true,
  corruptible: true,
  capacity: true,
});
