import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('bench')
    .description('Time warm runs of `true` in a stored image (default: the busybox shipped with flux), stage by stage, against `node -e 0` and bwrap.')
    .argument('[image]', 'a stored image; default the shipped busybox')
    .option('--runs <n>', 'measured runs after the warm-up', '20')
    .option('--network <mode>', 'the runs\' network (as flux run --network)', 'none')
    .option('--json', 'print the figures as JSON')
    .action(async (image: string | undefined, o: { runs: string; network: string; json?: boolean }) => {
      const { benchCommand } = await import('../commands/bench.js');
      await benchCommand(image, o);
    });
}
