import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONTROL_PORT, DEFAULT_DOMAIN, DEFAULT_NODE_TIMEOUT_MS, startControlPlane } from '../../control/index.js';
import { UsageError } from '../../errors/index.js';
import { ensureDevCa, issueCertificate } from '../../router/index.js';
import { asFlag, parseCount, parsePort } from '../parse.js';
import { untilSignal } from '../signals.js';
import { commandGroup } from '../group.js';

const DOMAIN = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function parseDomain(text: string): string {
  if (!DOMAIN.test(text) || text.length > 200) throw new UsageError(`"${text}" is not a domain name (lowercase labels joined by dots)`);
  return text;
}

export function registerControl(program: Command): void {
  const control = commandGroup(program, 'control', 'the control plane: apps, nodes and the scheduler');
  control
    .command('start')
    .description('run the control plane (foreground; HTTP API on 127.0.0.1)')
    .requiredOption('--state <dir>', 'where the control plane keeps its state (a level database)')
    .option('--port <port>', `the API port on 127.0.0.1 (0 picks a free one)`, asFlag(parsePort), DEFAULT_CONTROL_PORT)
    .option('--domain <domain>', 'the domain of app names: <app>-<id>.<zone>.<domain>', asFlag(parseDomain), DEFAULT_DOMAIN)
    .option(
      '--node-timeout <seconds>',
      'a node silent this long is lost and its instances move',
      asFlag(parseCount),
      DEFAULT_NODE_TIMEOUT_MS / 1000,
    )
    .option('--ca <dir>', 'issue certificates for tls: terminate ports from the dev CA in DIR (made if missing)')
    .action(async (flags: { state: string; port: number; domain: string; nodeTimeout: number; ca?: string }) => {
      const ca = flags.ca === undefined ? undefined : await ensureDevCa(flags.ca);
      const plane = await startControlPlane({
        dir: flags.state,
        port: flags.port,
        domain: flags.domain,
        nodeTimeoutMs: flags.nodeTimeout * 1000,
        issueCertificate: ca && ((host) => issueCertificate(ca, host, join(flags.state, 'certs'))),
      });
      process.stdout.write(`control plane listening on ${plane.url}\n`);
      const signal = await untilSignal();
      process.stderr.write(`${signal}: stopping the control plane\n`);
      await plane.close();
    });
}
