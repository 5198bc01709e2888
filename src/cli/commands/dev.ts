import { join } from 'node:path';
import type { Command } from 'commander';
import { startControlPlane } from '../../control/index.js';
import { startDevCluster } from '../../dev/index.js';
import { ensureDevCa, issueCertificate } from '../../router/index.js';
import { asFlag, parseCount, parseSize } from '../parse.js';
import { openSession } from '../session.js';
import { untilSignal } from '../signals.js';
import { commandGroup } from '../group.js';
import { PASSPHRASE_OPTION } from '../passphrase.js';

export function registerDev(program: Command): void {
  const dev = commandGroup(program, 'dev', 'a whole cluster on this machine, for trying Cairn and for tests');

  dev
    .command('up')
    .description('start a local DHT testnet (127.0.0.1) and N storage peers, one zone each (foreground; Ctrl-C stops all)')
    .option('--peers <n>', 'how many storage peers', asFlag(parseCount), 6)
    .option('--dir <dir>', 'where the peers keep their shards (default $CAIRN_HOME/dev)')
    .option('--capacity <size>', 'bytes each peer accepts (default no limit)', asFlag(parseSize))
    .option('--force', 'replace a cluster.json that dev up did not write')
    .option(...PASSPHRASE_OPTION)
    .action(async (flags: { peers: number; dir?: string; capacity?: number; force?: boolean; passphraseFile?: string }) => {
      const session = await openSession(flags.passphraseFile);
      const home = session.home;
      const masterKey = session.masterKey;
      await session.close();
      const dir = flags.dir ?? join(home, 'dev');
      const cluster = await startDevCluster({
        home,
        masterKey,
        dir,
        peers: flags.peers,
        capacity: flags.capacity,
        force: flags.force,
      });
      // The control plane for apps and node agents, with the dev CA issuing the certificates routers terminate with.
      const ca = await ensureDevCa(join(dir, 'ca'));
      const control = await startControlPlane({
        dir: join(dir, 'control'),
        port: 0,
        issueCertificate: (host) => issueCertificate(ca, host, join(dir, 'control', 'certs')),
      }).catch(async (err: unknown) => {
        await cluster.stop();
        throw err;
      });
      const boot = cluster.bootstrap.map((b) => `${b.host}:${b.port}`).join(',');
      process.stdout.write(
        `cairn dev cluster up: ${cluster.peers.length} peers on a local DHT testnet (bootstrap ${boot})\n` +
          cluster.peers.map((p) => `  peer ${p.key.slice(0, 16)}  ${p.options.zone}  pid ${p.pid}  ${p.options.dir}\n`).join('') +
          `cluster config written to ${join(home, 'cluster.json')}\n` +
          `control plane listening on ${control.url} (dev CA in ${join(dir, 'ca')})\n` +
          `in another shell (same CAIRN_HOME=${home}):\n` +
          `  cairn peer ls\n` +
          `  cairn volume create NAME --backend peers\n` +
          `  cairn mount NAME DIR\n` +
          `  export CAIRN_CONTROL=${control.url}\n` +
          `  cairn node start --state DIR --name n1 --zone zone-1 &   # then: cairn app deploy APP.yaml\n` +
          `  cairn router start --control ${control.url}\n` +
          `Ctrl-C stops the cluster.\n`,
      );
      const signal = await untilSignal();
      process.stderr.write(`${signal}: stopping the peers and the testnet\n`);
      await control.close();
      await cluster.stop();
      process.stdout.write('cluster stopped\n');
    });
}
