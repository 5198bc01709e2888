import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerInit } from './commands/init.js';
import { registerMount } from './commands/mount.js';
import { registerVolume } from './commands/volume.js';

/** Our package.json: two levels up from src/cli, three from dist/src/cli. */
function version(): string {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    const file = new URL('package.json', dir);
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
    if (pkg.name === 'cairn') return pkg.version;
  }
  return 'unknown';
}

/** The whole `cairn` command tree. Commander errors are thrown, not exited, so main() picks exit codes. */
export function buildProgram(): Command {
  const program = new Command('cairn')
    .description('Encrypted, erasure-coded persistent volumes for containers')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      outputError: (text, write) => write(`cairn: ${text.replace(/^error: /, '').trimEnd()}\n`),
    });
  registerInit(program);
  registerVolume(program);
  registerMount(program);
  registerBench(program);
  program.addHelpCommand('help [command]', 'show help for a command');
  return program;
}
