import { CommanderError } from 'commander';
import { CairnError, UsageError } from '../errors/index.js';
import { buildProgram } from './program.js';

/** Exit codes: 0 ok, 1 the operation failed, 2 the command line was wrong. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    // A command may set the exit code itself (cairn run passes on its container's).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; every real parse error is a usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CairnError) {
      process.stderr.write(`cairn: ${err.message}\n`);
      return err instanceof UsageError ? 2 : 1;
    }
    process.stderr.write(`cairn: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.CAIRN_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
