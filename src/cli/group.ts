import type { Command } from 'commander';

/** A command that only groups subcommands: run bare, it shows its usage and exits 2. */
export function commandGroup(parent: Command, name: string, description: string): Command {
  const group = parent
    .command(name)
    .description(description)
    .action(() => {
      group.help({ error: true });
    });
  return group;
}
