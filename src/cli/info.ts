import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('info')
    .description('Show what flux found on this machine and will use, with a fix for each missing piece.')
    .option('--format <format>', 'json for a JSON object (stable fields) instead of text')
    .action(async (o: { format?: string }) => {
      const { infoCommand } = await import('../commands/info.js');
      await infoCommand(o);
    });
}
