import { Command } from 'commander';
import { packageVersion } from '../repo/index.js';
import { registerApp } from './commands/app.js';
import { registerBench } from './commands/bench.js';
import { registerBucket } from './commands/bucket.js';
import { registerControl } from './commands/control.js';
import { registerInit } from './commands/init.js';
import { registerDev } from './commands/dev.js';
import { registerMount } from './commands/mount.js';
import { registerNode } from './commands/node.js';
import { registerPeer } from './commands/peer.js';
import { registerRepair } from './commands/repair.js';
import { registerRouter } from './commands/router.js';
import { registerVolume } from './commands/volume.js';

/** The whole `cairn` command tree. Commander errors are thrown, not exited, so main() picks exit codes. */
export function buildProgram(): Command {
  const program = new Command('cairn')
    .description('Encrypted, erasure-coded persistent volumes for containers')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      outputError: (text, write) => write(`cairn: ${text.replace(/^error: /, '').trimEnd()}\n`),
    });
  registerInit(program);
  registerVolume(program);
  registerMount(program);
  registerBucket(program);
  registerPeer(program);
  registerDev(program);
  registerRepair(program);
  registerControl(program);
  registerNode(program);
  registerApp(program);
  registerRouter(program);
  registerBench(program);
  program.addHelpCommand('help [command]', 'show help for a command');
  return program;
}
