import type { Command } from 'commander';
import { addRunOptions, runOptionsFromCli, type CliRunOpts } from '../flags/run-flags.js';

/**
 * What kind of run the last `flux run` was, as far as the code it needs goes (its network and
 * whether it forwarded ports): the learned code cache (bin/flux.js) learns each kind once.
 */
let lastRunKind: string | undefined;

export function runKind(): string | undefined {
  return lastRunKind;
}

function kindOf(o: CliRunOpts): string {
  const network = (o.network ?? 'slirp4netns').split(':')[0];
  return `run:${network}${(o.publish?.length ?? 0) > 0 || o.publishAll ? '+ports' : ''}`;
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('Run a command in a throw-away container of IMAGE (pulled when missing). The exit code is the command\'s.')
    .usage('[options] IMAGE [--] [COMMAND...]')
    .argument('<image>', 'image reference, image ID, or oci:DIR[:tag] / oci-archive:FILE / docker-archive:FILE')
    .argument('[command...]', 'command and arguments (default: the image\'s entrypoint and cmd)')
    .passThroughOptions();
  addRunOptions(cmd).action(async (image: string, command: string[], o: CliRunOpts) => {
    const { runCommand } = await import('../container/run-container.js');
    const argv = command[0] === '--' ? command.slice(1) : command;
    lastRunKind = kindOf(o);
    process.exitCode = await runCommand(image, argv, runOptionsFromCli(o));
  });
}
