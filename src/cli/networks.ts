import type { Command } from 'commander';

/** `flux network …`: user networks that containers share (flux run --network NAME). */
export function register(program: Command): void {
  const net = program.command('network').description('Manage user networks: containers on one reach each other by name.');
  net
    .command('create')
    .description('Create a network: a bridge in a namespace of its own, held by a process that outlives flux.')
    .argument('<name>')
    .option('--subnet <cidr>', 'the IPv4 subnet (default: a free 10.89.N.0/24)')
    .option('--internal', 'no outbound traffic')
    .action(async (name: string, o: { subnet?: string; internal?: boolean }) => {
      const { networkCreateCommand } = await import('../commands/networks.js');
      await networkCreateCommand(name, o);
    });
  net
    .command('ls')
    .description('List the networks.')
    .option('--format <format>', 'json or table (default)')
    .action(async (o: { format?: string }) => {
      const { networkLsCommand } = await import('../commands/networks.js');
      await networkLsCommand(o);
    });
  net
    .command('inspect')
    .description('Show networks with their containers as JSON.')
    .argument('<network...>')
    .action(async (names: string[]) => {
      const { networkInspectCommand } = await import('../commands/networks.js');
      await networkInspectCommand(names);
    });
  net
    .command('rm')
    .description('Remove networks (refused while containers use one, unless -f).')
    .argument('<network...>')
    .option('-f, --force', 'remove even while containers use it')
    .action(async (names: string[], o: { force?: boolean }) => {
      const { networkRmCommand } = await import('../commands/networks.js');
      await networkRmCommand(names, o);
    });
  net
    .command('prune')
    .description('Remove every network no container uses.')
    .action(async () => {
      const { networkPruneCommand } = await import('../commands/networks.js');
      await networkPruneCommand();
    });
}
