/**
 * The embedded cluster (`cairn dev up`): a hyperswarm DHT testnet bound to
 * 127.0.0.1 in this process and N storage peers as child processes, one zone
 * each, written into $CAIRN_HOME/cluster.json so volumes can use `--backend peers`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ClusterConfig, readClusterConfig, writeClusterConfig } from '../cluster/index.js';
import { UsageError } from '../errors/index.js';
import { type Bootstrap, type JoinInfo, clusterTopic, memberKeyPair } from '../peer/index.js';
import { PeerProcess } from './peer-process.js';

/** DHT nodes of the testnet: enough for lookups to route, few enough to start in milliseconds. */
const TESTNET_NODES = 3;

export interface DevClusterOptions {
  home: string;
  masterKey: Uint8Array;
  /** Where the peers' directories live; reused on the next start (same keys, same shards). */
  dir: string;
  peers: number;
  /** Bytes each peer accepts (default unlimited). */
  capacity?: number;
  /** Replace a cluster.json that `dev up` did not write. */
  force?: boolean;
}

export interface DevCluster {
  bootstrap: Bootstrap[];
  peers: PeerProcess[];
  stop(): Promise<void>;
}

export async function startDevCluster(options: DevClusterOptions): Promise<DevCluster> {
  const held = await readClusterConfig(options.home);
  if (held.peers.length > 0 && !held.dev && !options.force) {
    throw new UsageError(`${options.home}/cluster.json lists peers that \`cairn dev up\` did not start; use another CAIRN_HOME or --force`);
  }
  const { default: createTestnet } = await import('hyperdht/testnet.js');
  const testnet = await createTestnet(TESTNET_NODES, { host: '127.0.0.1' });
  const peers: PeerProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(peers.map((p) => p.stop('SIGTERM')));
    await testnet.destroy();
  };
  try {
    const bootstrap = testnet.bootstrap;
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const join: JoinInfo = {
      version: 1,
      topic: Buffer.from(clusterTopic(options.masterKey)).toString('hex'),
      members: [memberKeyPair(options.masterKey).publicKey.toString('hex')],
      bootstrap,
    };
    const joinFile = joinPath(options.dir);
    await writeFile(joinFile, `${JSON.stringify(join, null, 2)}\n`, { mode: 0o600 });
    for (let i = 1; i <= options.peers; i++) {
      peers.push(
        new PeerProcess({ dir: peerDir(options.dir, i), zone: `zone-${i}`, bootstrap, joinFile, capacity: options.capacity }),
      );
    }
    await Promise.all(peers.map((p) => p.start()));
    const config: ClusterConfig = { version: 1, dev: true, bootstrap, peers: peers.map((p) => ({ key: p.key, zone: p.options.zone })) };
    await writeClusterConfig(options.home, config);
    return { bootstrap, peers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const joinPath = (dir: string) => join(dir, 'join.json');
const peerDir = (dir: string, i: number) => join(dir, `peer-${i}`);
