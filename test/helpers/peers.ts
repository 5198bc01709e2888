/**
 * Real storage peers for tests: a DHT testnet on 127.0.0.1 in the test
 * process, peers as `cairn peer start` child processes (the built CLI), and a
 * client network with a member keypair. Everything started here is stopped
 * by `cleanup`, which tests call in afterEach/afterAll even when they fail.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import DHT, { type KeyPair } from 'hyperdht';
import createTestnet from 'hyperdht/testnet.js';
import type { ShardId } from '../../src/crypto/index.js';
import { PeerProcess } from '../../src/dev/index.js';
import { type JoinInfo, PeerNetwork } from '../../src/peer/index.js';
import { PeerStore } from '../../src/store/peer.js';
import { flipFirstByte } from '../store/kit.js';

export interface Testnet {
  bootstrap: { host: string; port: number }[];
  destroy(): Promise<void>;
}

export async function startTestnet(): Promise<Testnet> {
  return createTestnet(3, { host: '127.0.0.1' });
}

/** A cluster identity for tests: the member keypair and a join file peers start from. */
export class TestCluster {
  readonly member: KeyPair = DHT.keyPair();
  readonly topic = randomBytes(32).toString('hex');
  readonly #peers = new Set<PeerProcess>();
  readonly #networks = new Set<PeerNetwork>();
  #dirs: string[] = [];

  constructor(readonly testnet: Testnet) {}

  async joinFile(dir: string): Promise<string> {
    const join_: JoinInfo = { version: 1, topic: this.topic, members: [this.member.publicKey.toString('hex')], bootstrap: this.testnet.bootstrap };
    const path = join(dir, 'join.json');
    await writeFile(path, JSON.stringify(join_), { mode: 0o600 });
    return path;
  }

  async startPeer(options: { zone?: string; capacity?: number } = {}): Promise<PeerProcess> {
    const path = await mkdtemp(join(tmpdir(), 'cairn-peer-'));
    this.#dirs.push(path);
    const peer = new PeerProcess({
      dir: join(path, 'peer'),
      zone: options.zone ?? 'z1',
      bootstrap: this.testnet.bootstrap,
      joinFile: await this.joinFile(path),
      capacity: options.capacity,
    });
    this.#peers.add(peer);
    await peer.start();
    return peer;
  }

  network(keyPair: KeyPair = this.member): PeerNetwork {
    const network = new PeerNetwork(keyPair, this.testnet.bootstrap);
    this.#networks.add(network);
    return network;
  }

  store(peer: PeerProcess, network = this.network()): PeerStore {
    return new PeerStore(network.link(peer.key));
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.#networks].map((n) => n.close()));
    this.#networks.clear();
    await Promise.allSettled([...this.#peers].map((p) => p.stop('SIGKILL')));
    this.#peers.clear();
    await Promise.allSettled(this.#dirs.map((d) => rm(d, { recursive: true, force: true })));
    this.#dirs = [];
  }
}

export function shardFile(peer: PeerProcess, id: ShardId): string {
  return join(peer.options.dir, 'store', 'shards', id.slice(0, 2), id);
}

/** Flips the first byte of a shard file on the peer's disk, as rot would. */
export function rot(peer: PeerProcess, id: ShardId): Promise<void> {
  return flipFirstByte(shardFile(peer, id));
}
