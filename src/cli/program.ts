import { Command } from 'commander';
import { packageVersion } from '../repo/index.js';

type Register = (program: Command) => void;

/**
 * The top-level commands, each with the module that defines it, in the order
 * help lists them. A module is imported only when its command runs (or for
 * help, suggestions and errors, which need them all): every module brings
 * its dependencies into the process's heap, and a mount, which lives long
 * and collects garbage often, should carry only its own.
 */
const COMMANDS: { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['init', 'keyring'], load: async () => (await import('./commands/init.js')).registerInit },
  { names: ['volume'], load: async () => (await import('./commands/volume.js')).registerVolume },
  { names: ['mount', 'run'], load: async () => (await import('./commands/mount.js')).registerMount },
  { names: ['bucket'], load: async () => (await import('./commands/bucket.js')).registerBucket },
  { names: ['peer'], load: async () => (await import('./commands/peer.js')).registerPeer },
  { names: ['dev'], load: async () => (await import('./commands/dev.js')).registerDev },
  { names: ['gc', 'repair', 'scrub'], load: async () => (await import('./commands/repair.js')).registerRepair },
  { names: ['control'], load: async () => (await import('./commands/control.js')).registerControl },
  { names: ['node'], load: async () => (await import('./commands/node.js')).registerNode },
  { names: ['app'], load: async () => (await import('./commands/app.js')).registerApp },
  { names: ['router'], load: async () => (await import('./commands/router.js')).registerRouter },
  { names: ['bench'], load: async () => (await import('./commands/bench.js')).registerBench },
];

/**
 * The `cairn` command tree for `argv` (all of it when argv is not given or
 * names no command). Commander errors are thrown, not exited, so main()
 * picks exit codes.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('cairn')
    .description('Encrypted, erasure-coded persistent volumes for containers')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      outputError: (text, write) => write(`cairn: ${text.replace(/^error: /, '').trimEnd()}\n`),
    });
  const named = COMMANDS.filter((c) => argv !== undefined && c.names.includes(argv[0]));
  for (const register of await Promise.all((named.length > 0 ? named : COMMANDS).map((c) => c.load()))) register(program);
  program.addHelpCommand('help [command]', 'show help for a command');
  return program;
}
