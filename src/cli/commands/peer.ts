import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { PeerProvider, readClusterConfig, resolveHome, writeClusterConfig } from '../../cluster/index.js';
import { UsageError } from '../../errors/index.js';
import { createLogger } from '../../log/index.js';
import {
  type JoinInfo,
  PeerServer,
  bootstrapFrom,
  clusterTopic,
  loadOrCreateState,
  memberKeyPair,
  parseBootstrap,
  peerKeyPair,
  readJoinFile,
  storeDir,
} from '../../peer/index.js';
import { FileStore } from '../../store/index.js';
import type { PeerStore } from '../../store/peer.js';
import { asFlag, parseSize } from '../parse.js';
import { openSession } from '../session.js';
import { humanBytes, printTable } from '../table.js';
import { untilSignal } from '../signals.js';
import { commandGroup } from '../group.js';
import { PASSPHRASE_OPTION } from '../passphrase.js';
const HEX64 = /^[0-9a-f]{64}$/;
/** How long `peer ls` waits for a peer before calling it down. */
const LS_TIMEOUT_MS = 3000;


interface StartFlags {
  dir: string;
  zone?: string;
  capacity?: number;
  joinFile?: string;
}

/** Serves until SIGINT/SIGTERM; closing waits for requests in flight, so every acknowledged put is on disk. */
async function startPeer(flags: StartFlags): Promise<void> {
  const join: JoinInfo | undefined = flags.joinFile ? await readJoinFile(flags.joinFile) : undefined;
  const state = await loadOrCreateState(flags.dir, { join, zone: flags.zone, capacity: flags.capacity });
  const log = createLogger('peer');
  const keyPair = peerKeyPair(state);
  const store = await FileStore.open(storeDir(flags.dir), state.capacity === null ? {} : { capacity: state.capacity });
  const server = await PeerServer.start({
    store,
    keyPair,
    topic: Buffer.from(state.join.topic, 'hex'),
    members: new Set(state.join.members),
    bootstrap: bootstrapFrom(state.join.bootstrap),
    zone: state.zone,
    log,
  });
  const key = server.publicKey;
  log.info({ key: key.slice(0, 16), zone: state.zone, capacity: state.capacity }, 'serving');
  process.stdout.write(
    `peer ${key} serving in zone ${state.zone} from ${flags.dir}\n` +
      `on a keyring machine, add it with: cairn peer add ${key} --zone ${state.zone}\n`,
  );
  const signal = await untilSignal();
  log.info({ signal }, 'stopping');
  await server.close();
}

export function registerPeer(program: Command): void {
  const peer = commandGroup(program, 'peer', 'run a storage peer, and manage the peers this cluster uses');

  peer
    .command('start')
    .description('serve shards to the cluster from DIR (foreground; SIGTERM stops it cleanly)')
    .requiredOption('--dir <dir>', 'the peer\'s directory: its key, settings and shards')
    .option('--zone <zone>', 'failure domain (rack, site); shards of a stripe are spread over zones')
    .option('--capacity <size>', 'bytes of shards to accept (default: no limit)', asFlag(parseSize))
    .option('--join-file <file>', 'first start only: the join file from `cairn peer invite`')
    .action(startPeer);

  peer
    .command('invite')
    .description('write the join file a new peer starts with (topic, member key, bootstrap nodes)')
    .requiredOption('--out <file>', 'where to write it (0600)')
    .option('--bootstrap <host:port,...>', 'DHT bootstrap nodes (default: those in cluster.json)')
    .option(...PASSPHRASE_OPTION)
    .action(async (flags: { out: string; bootstrap?: string; passphraseFile?: string }) => {
      const session = await openSession(flags.passphraseFile);
      try {
        const config = await readClusterConfig(session.home);
        const bootstrap = flags.bootstrap ? parseBootstrap(flags.bootstrap, '--bootstrap') : config.bootstrap;
        if (bootstrap.length === 0) throw new UsageError('no bootstrap nodes: give --bootstrap host:port');
        const join: JoinInfo = {
          version: 1,
          topic: Buffer.from(clusterTopic(session.masterKey)).toString('hex'),
          members: [memberKeyPair(session.masterKey).publicKey.toString('hex')],
          bootstrap,
        };
        await writeFile(flags.out, `${JSON.stringify(join, null, 2)}\n`, { mode: 0o600 });
        if (config.bootstrap.length === 0) await writeClusterConfig(session.home, { ...config, bootstrap });
        process.stdout.write(`wrote ${flags.out}; start a peer with: cairn peer start --dir DIR --join-file ${flags.out}\n`);
      } finally {
        await session.close();
      }
    });

  peer
    .command('add <key>')
    .description('use the peer with public KEY (printed by `cairn peer start`)')
    .requiredOption('--zone <zone>', 'the zone the peer was started in')
    .action(async (key: string, flags: { zone: string }) => {
      if (!HEX64.test(key)) throw new UsageError(`"${key}" is not a peer key (64 hex characters)`);
      const home = resolveHome();
      const config = await readClusterConfig(home);
      if (config.peers.some((p) => p.key === key)) throw new UsageError(`peer ${key.slice(0, 16)}… is already in the cluster`);
      await writeClusterConfig(home, { ...config, peers: [...config.peers, { key, zone: flags.zone }] });
      process.stdout.write(`added peer ${key.slice(0, 16)}… in zone ${flags.zone} (${config.peers.length + 1} peers)\n`);
    });

  peer
    .command('rm <key>')
    .description('stop using a peer (its shards are rebuilt elsewhere by `cairn repair`)')
    .action(async (key: string) => {
      const home = resolveHome();
      const config = await readClusterConfig(home);
      const peers = config.peers.filter((p) => p.key !== key && !p.key.startsWith(key));
      if (peers.length === config.peers.length) throw new UsageError(`no peer ${key} in the cluster (\`cairn peer ls\`)`);
      if (config.peers.length - peers.length > 1) throw new UsageError(`"${key}" matches several peers; give more of the key`);
      await writeClusterConfig(home, { ...config, peers });
      process.stdout.write(`removed peer ${key.slice(0, 16)}…\n`);
    });

  peer
    .command('ls')
    .description('show each peer: up or down, zone, capacity, used, shards')
    .option('--json', 'print a JSON array')
    .option(...PASSPHRASE_OPTION)
    .action(async (flags: { json?: boolean; passphraseFile?: string }) => {
      const session = await openSession(flags.passphraseFile);
      try {
        const config = await readClusterConfig(session.home);
        if (config.peers.length === 0) {
          if (flags.json) process.stdout.write('[]\n');
          else process.stdout.write('No peers yet: `cairn peer add KEY --zone Z`, or `cairn dev up`\n');
          return;
        }
        const provider = new PeerProvider(session.home, session.masterKey);
        try {
          const backend = await provider.backend({ kind: 'peers' }, 0);
          const rows = await Promise.all(
            config.peers.map(async (p, i) => {
              const store = backend.stores[i] as PeerStore;
              try {
                const s = await store.statWithZone({ signal: AbortSignal.timeout(LS_TIMEOUT_MS) });
                return { key: p.key, id: store.id, up: true, zone: s.zone, configured_zone: p.zone, capacity: s.capacity, used: s.used, shards: s.shards };
              } catch (err) {
                return { key: p.key, id: store.id, up: false, zone: p.zone, configured_zone: p.zone, capacity: null, used: null, shards: null, error: (err as Error).message };
              }
            }),
          );
          if (flags.json) {
            process.stdout.write(`${JSON.stringify(rows)}\n`);
            return;
          }
          printTable(
            ['peer', 'state', 'zone', 'capacity', 'used', 'shards'],
            rows.map((r) => [r.key.slice(0, 16), r.up ? 'up' : 'down', r.zone, (r.capacity === null ? '-' : humanBytes(r.capacity)), r.used === null ? '-' : humanBytes(r.used), r.shards === null ? '-' : String(r.shards)]),
          );
          for (const r of rows) {
            if (r.up && r.zone !== r.configured_zone) {
              process.stderr.write(`cairn: warning: peer ${r.key.slice(0, 16)} says zone ${r.zone}, cluster.json says ${r.configured_zone}\n`);
            }
          }
        } finally {
          await provider.close();
        }
      } finally {
        await session.close();
      }
    });
}
