import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { type AppView, ControlClient, controlUrl } from '../../control/index.js';
import { CairnError, UsageError } from '../../errors/index.js';
import { parseAppSpec } from '../../scheduler/spec.js';
import { asFlag, parseCount } from '../parse.js';
import { printTable } from '../table.js';
import { commandGroup } from '../group.js';

const CONTROL_FLAG = ['--control <url>', 'the control plane (else $CAIRN_CONTROL, else http://127.0.0.1:7480)'] as const;
const WAIT_POLL_MS = 500;

export const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)}Mi`;

/** Every replica runs the current version and is healthy, and nothing older is left. */
function settled(app: AppView): boolean {
  const current = app.instances.filter((i) => i.version === app.version && i.desired === 'run');
  return (
    app.instances.length === app.spec.replicas &&
    current.length === app.spec.replicas &&
    current.every((i) => i.status?.state === 'running' && i.status.healthy)
  );
}

function describeInstances(app: AppView): string {
  return app.instances
    .map((i) => `${i.id}: ${i.pending ? `pending (${i.pending})` : (i.status?.state ?? 'assigned')}${i.status?.error ? ` (${i.status.error})` : ''}`)
    .join('; ');
}

class NotReadyError extends CairnError {
  constructor(app: AppView, seconds: number) {
    super('app.not-ready', `${app.name} version ${app.version} is not healthy after ${seconds} s: ${describeInstances(app) || 'no instances'}; see \`cairn app logs ${app.name}\``);
  }
}

async function readSpecFile(file: string): Promise<{ doc: unknown; name: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // Checked here for errors that name the file; the control plane checks the same document again.
  const spec = parseAppSpec(text, file);
  return { doc: parseYaml(text), name: spec.name };
}

export function registerApp(program: Command): void {
  const app = commandGroup(program, 'app', 'deploy, list and remove apps');

  app
    .command('deploy <file>')
    .description('deploy an app spec (YAML or JSON; see docs/SCHEDULER.md); a changed spec rolls out one instance at a time')
    .option(...CONTROL_FLAG)
    .option('--wait', 'wait until every replica of this version is healthy')
    .option('--timeout <seconds>', 'with --wait: give up after this long', asFlag(parseCount), 120)
    .option('--json', 'print the app as JSON')
    .action(async (file: string, flags: { control?: string; wait?: boolean; timeout: number; json?: boolean }) => {
      const { doc } = await readSpecFile(file);
      const client = new ControlClient(controlUrl(flags.control));
      const { app: deployed, changed } = await client.deploy(doc);
      let view = deployed;
      if (flags.wait) {
        const deadline = Date.now() + flags.timeout * 1000;
        while (!settled(view)) {
          if (Date.now() > deadline) throw new NotReadyError(view, flags.timeout);
          await sleep(WAIT_POLL_MS);
          view = await client.app(view.name);
        }
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        changed
          ? `deployed ${view.name} version ${view.version} (id ${view.id})${flags.wait ? ', all replicas healthy' : ''}\n`
          : `${view.name} is unchanged (version ${view.version})\n`,
      );
      for (const host of view.hosts) process.stdout.write(`  ${host}\n`);
    });

  app
    .command('ls')
    .description('list apps and their instances')
    .option(...CONTROL_FLAG)
    .option('--json', 'print JSON')
    .action(async (flags: { control?: string; json?: boolean }) => {
      const apps = await new ControlClient(controlUrl(flags.control)).apps();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(apps, null, 2)}\n`);
        return;
      }
      if (apps.length === 0) {
        process.stdout.write('No apps yet; deploy one with `cairn app deploy FILE`\n');
        return;
      }
      printTable(
        ['APP', 'ID', 'VERSION', 'HEALTHY', 'NAMES'],
        apps.map((a) => [
          a.name,
          a.id,
          String(a.version),
          `${a.instances.filter((i) => i.desired === 'run' && i.status?.state === 'running' && i.status.healthy).length}/${a.spec.replicas}`,
          a.hosts.join(' ') || '-',
        ]),
      );
      process.stdout.write('\n');
      printTable(
        ['INSTANCE', 'VERSION', 'NODE', 'STATE', 'HEALTHY', 'PORTS', 'RESTARTS', 'NOTE'],
        apps.flatMap((a) =>
          a.instances.map((i) => [
            i.id,
            String(i.version),
            i.node ?? '-',
            i.desired === 'stop' ? 'stopping' : i.pending ? 'pending' : (i.status?.state ?? 'assigned'),
            i.status?.healthy ? 'yes' : 'no',
            Object.entries(i.status?.ports ?? {}).map(([n, p]) => `${n}:${p}`).join(',') || '-',
            String(i.status?.restarts ?? 0),
            i.pending ?? i.status?.error ?? '',
          ]),
        ),
      );
    });

  app
    .command('rm <name>')
    .description('remove an app: its instances stop and their volumes are unmounted (the volumes stay)')
    .option(...CONTROL_FLAG)
    .action(async (name: string, flags: { control?: string }) => {
      await new ControlClient(controlUrl(flags.control)).removeApp(name);
      process.stdout.write(`removed ${name}; its instances are stopping\n`);
    });

  app
    .command('logs <name>')
    .description("recent output of the app's instances (kept in the control plane's memory)")
    .option(...CONTROL_FLAG)
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .action(async (name: string, flags: { control?: string; follow?: boolean }) => {
      const client = new ControlClient(controlUrl(flags.control));
      let after = 0;
      let stop = false;
      const onSignal = () => {
        stop = true;
      };
      process.once('SIGINT', onSignal);
      try {
        do {
          const { lines, next } = await client.logs(name, after);
          for (const l of lines) process.stdout.write(`${l.instance} ${l.stream === 'stderr' ? '!' : '|'} ${l.text}\n`);
          after = next;
          if (flags.follow) await sleep(1000);
        } while (flags.follow && !stop);
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
}
