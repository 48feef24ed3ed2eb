import { Argument, type Command } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/**
 * `flux completion SHELL` prints a completion script; `flux __complete images|containers|networks`
 * (hidden) is what those scripts ask for the stored image references, the containers and the user
 * networks while completing. `all` builds the whole
 * program, whose definitions the script is written from.
 */
export function register(program: Command, all: () => Command): void {
  program
    .command('completion')
    .description('Print a shell completion script for bash, zsh or fish (see the README for where to put it).')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .action(async (shell: (typeof SHELLS)[number]) => {
      const { completionSpec } = await import('./completion-spec.js');
      const spec = completionSpec(all());
      const { bashScript } = await import('./completion-bash.js');
      const { zshScript } = await import('./completion-zsh.js');
      const { fishScript } = await import('./completion-fish.js');
      process.stdout.write({ bash: bashScript, zsh: zshScript, fish: fishScript }[shell](spec));
    });
  program
    .command('__complete', { hidden: true })
    .addArgument(new Argument('<what>').choices(['images', 'containers', 'networks']))
    .action(async (what: 'images' | 'containers' | 'networks') => {
      const { completeImages, completeContainers, completeNetworks } = await import('../commands/complete-words.js');
      await { images: completeImages, containers: completeContainers, networks: completeNetworks }[what]();
    });
}
