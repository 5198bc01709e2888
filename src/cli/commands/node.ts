import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ControlClient, controlUrl } from '../../control/index.js';
import { UsageError } from '../../errors/index.js';
import { startNodeAgent } from '../../node/index.js';
import { ZONE, parseNodeLabels } from '../../scheduler/spec.js';
import { asFlag, parseSize } from '../parse.js';
import { openSession, openVolume } from '../session.js';
import { untilSignal } from '../signals.js';
import { printTable } from '../table.js';
import { mib } from './app.js';
import { commandGroup } from '../group.js';
import { PASSPHRASE_OPTION } from '../passphrase.js';

const NODE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function parseNodeName(text: string): string {
  if (!NODE_NAME.test(text)) throw new UsageError(`"${text}" is not a node name: 1-63 of a-z 0-9 . _ -`);
  return text;
}

function parseZone(text: string): string {
  if (!ZONE.test(text)) throw new UsageError(`"${text}" is not a zone name (a DNS label: a-z 0-9 -)`);
  return text;
}

function parseCpu(text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0)) throw new UsageError(`"${text}" is not a number of cores (e.g. 2 or 0.5)`);
  return n;
}

/** This machine's name as a node name, for the single-agent case. */
const defaultName = () => hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63) || 'node';

interface StartFlags {
  state: string;
  name?: string;
  zone: string;
  labels: Record<string, string>;
  control?: string;
  cpu?: number;
  memory?: number;
  address: string;
  passphraseFile?: string;
}

export function registerNode(program: Command): void {
  const node = commandGroup(program, 'node', 'node agents: the machines that run app instances');
  node
    .command('start')
    .description('run a node agent (foreground; Ctrl-C stops its instances, unmounts their volumes and leaves)')
    .requiredOption('--state <dir>', "the agent's own state directory (one per agent)")
    .option('--name <name>', 'the node name (default: the host name); unique in the cluster', asFlag(parseNodeName))
    .option('--zone <zone>', 'the zone this node is in', asFlag(parseZone), 'local')
    .option('--labels <k=v,...>', 'labels apps can require (constraints.labels)', asFlag(parseNodeLabels), {})
    .option('--control <url>', 'the control plane (else $CAIRN_CONTROL, else http://127.0.0.1:7480)')
    .option('--cpu <cores>', "cores to offer (default: this machine's)", asFlag(parseCpu))
    .option('--memory <size>', "memory to offer (default: this machine's)", asFlag(parseSize))
    .option('--address <ip>', 'where the router reaches instances on this node', '127.0.0.1')
    .option(...PASSPHRASE_OPTION)
    .action(async (flags: StartFlags) => {
      const control = controlUrl(flags.control);
      const session = await openSession(flags.passphraseFile);
      try {
        const agent = await startNodeAgent({
          stateDir: flags.state,
          control,
          name: flags.name ?? defaultName(),
          zone: flags.zone,
          labels: flags.labels,
          capacity: { cpu: flags.cpu, memoryBytes: flags.memory },
          address: flags.address,
          openVolume: async (name, options) =>
            openVolume(session, await session.catalogs.get(name), {
              readOnly: options.readOnly,
              forceTakeover: options.takeover,
              journalRoot: options.journalRoot,
            }),
        });
        process.stdout.write(`node ${agent.name} (${agent.id}) registered with ${control}; Ctrl-C to stop\n`);
        const signal = await untilSignal();
        process.stderr.write(`${signal}: stopping instances and leaving the cluster\n`);
        // Listening on keeps the container runner from re-raising the signal (and ending us) mid-shutdown.
        const again = (s: NodeJS.Signals) => process.stderr.write(`${s}: still stopping (committing volumes)\n`);
        process.on('SIGINT', again);
        process.on('SIGTERM', again);
        try {
          await agent.close();
        } finally {
          process.off('SIGINT', again);
          process.off('SIGTERM', again);
        }
        process.stdout.write(`node ${agent.name} stopped\n`);
      } finally {
        await session.close();
      }
    });

  node
    .command('ls')
    .description('list the nodes the control plane knows')
    .option('--control <url>', 'the control plane (else $CAIRN_CONTROL, else http://127.0.0.1:7480)')
    .option('--json', 'print JSON')
    .action(async (flags: { control?: string; json?: boolean }) => {
      const nodes = await new ControlClient(controlUrl(flags.control)).nodes();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(nodes, null, 2)}\n`);
        return;
      }
      if (nodes.length === 0) {
        process.stdout.write('No nodes yet; start one with `cairn node start --state DIR`\n');
        return;
      }
      printTable(
        ['NAME', 'ZONE', 'STATE', 'INSTANCES', 'CPU', 'MEMORY', 'ADDRESS', 'LABELS', 'SEEN'],
        nodes.map((n) => [
          n.name,
          n.zone,
          n.state,
          String(n.instances),
          `${+n.used.cpu.toFixed(2)}/${n.capacity.cpu}`,
          `${mib(n.used.memoryBytes)}/${mib(n.capacity.memoryBytes)}`,
          n.address,
          Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-',
          `${Math.round(n.silentMs / 1000)}s ago`,
        ]),
      );
    });
}
