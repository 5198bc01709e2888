/**
 * The cluster's storage peers as this machine knows them: $CAIRN_HOME/cluster.json
 * (their public keys and zones, and the DHT bootstrap nodes), and the
 * `peers` backend over them. Nothing in the file is secret.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors/index.js';
import { type Bootstrap, PeerNetwork, bootstrapFrom, memberKeyPair } from '../peer/index.js';
import { PeerStore } from '../store/peer.js';
import { Backend, type StoreTraits } from '../volume/index.js';
import type { BackendSpec, StoreProvider } from './backends.js';
import { writeFileAtomic } from './home.js';

export interface PeerEntry {
  /** 64 hex characters: the peer's Noise public key. */
  key: string;
  zone: string;
}

export interface ClusterConfig {
  version: 1;
  bootstrap: Bootstrap[];
  peers: PeerEntry[];
  /** Written by `cairn dev up`, which may replace it; a hand-made config it refuses to touch. */
  dev?: boolean;
}

export const clusterConfigPath = (home: string) => join(home, 'cluster.json');

export async function readClusterConfig(home: string): Promise<ClusterConfig> {
  const path = clusterConfigPath(home);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, bootstrap: [], peers: [] };
    throw err;
  }
  let v: Partial<ClusterConfig>;
  try {
    v = JSON.parse(text) as Partial<ClusterConfig>;
  } catch {
    throw new UsageError(`${path} is not JSON; fix it or remove it and add the peers again`);
  }
  const peers = v.peers;
  if (v.version !== 1 || !Array.isArray(v.bootstrap) || !Array.isArray(peers)) {
    throw new UsageError(`${path} is not a Cairn cluster config (version 1 with bootstrap and peers)`);
  }
  for (const p of peers) {
    if (typeof p?.key !== 'string' || !/^[0-9a-f]{64}$/.test(p.key) || typeof p.zone !== 'string') {
      throw new UsageError(`${path}: a peer entry needs a 64-hex key and a zone`);
    }
  }
  return { version: 1, bootstrap: v.bootstrap, peers, ...(v.dev ? { dev: true } : {}) };
}

export async function writeClusterConfig(home: string, config: ClusterConfig): Promise<void> {
  await writeFileAtomic(clusterConfigPath(home), new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
}

/** CAIRN_BOOTSTRAP overrides the file's bootstrap nodes; with neither, there is no network to join. */
export function bootstrapOf(config: ClusterConfig, env: NodeJS.ProcessEnv = process.env): Bootstrap[] {
  const nodes = bootstrapFrom(config.bootstrap, env);
  if (nodes.length === 0) {
    throw new UsageError('no DHT bootstrap nodes configured: set CAIRN_BOOTSTRAP=host:port or run `cairn dev up`');
  }
  return nodes;
}

/** The `peers` backend of a session: one network, one PeerStore per configured peer. */
export class PeerProvider implements StoreProvider {
  readonly #home: string;
  readonly #masterKey: Uint8Array;
  #opened: Promise<{ network: PeerNetwork; backend: Backend }> | undefined;

  constructor(home: string, masterKey: Uint8Array) {
    this.#home = home;
    this.#masterKey = masterKey;
  }

  async homes(): Promise<string[]> {
    return (await readClusterConfig(this.#home)).peers.length > 0 ? ['peers'] : [];
  }

  async backend(_spec: BackendSpec, n: number): Promise<Backend> {
    const { backend } = await (this.#opened ??= this.#open());
    const peers = backend.stores.length;
    if (peers < n) {
      throw new UsageError(`a code of ${n} shards needs at least ${n} peers; the cluster has ${peers} (\`cairn peer ls\`)`);
    }
    return backend;
  }

  async #open(): Promise<{ network: PeerNetwork; backend: Backend }> {
    const config = await readClusterConfig(this.#home);
    if (config.peers.length === 0) throw new UsageError('no peers configured: `cairn peer add KEY --zone Z`, or `cairn dev up`');
    const network = new PeerNetwork(memberKeyPair(this.#masterKey), bootstrapOf(config));
    const stores: PeerStore[] = [];
    const traits = new Map<string, StoreTraits>();
    for (const p of config.peers) {
      const store = new PeerStore(network.link(p.key));
      stores.push(store);
      traits.set(store.id, { zone: p.zone, up: () => store.up, downForMs: () => store.downForMs });
    }
    return { network, backend: new Backend(stores, traits) };
  }

  async close(): Promise<void> {
    if (!this.#opened) return;
    const { network, backend } = await this.#opened;
    await Promise.all(backend.stores.map((s) => s.close()));
    await network.close();
  }
}
