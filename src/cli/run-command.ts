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

/**
 * A matrix runs its images in this process with the run's own code: it is a kind of its own for
 * the learned cache, which then also holds what the matrix compiles of the main chunk.
 */
export function noteMatrixKind(network: string | undefined): void {
  lastRunKind = `matrix:${(network ?? 'slirp4netns').split(':')[0]}`;
}

/** A pull that fetched is a kind of its own: the learned cache then holds the main chunk's pull path. */
export function notePullKind(): void {
  lastRunKind = 'pull';
}

function kindOf(o: CliRunOpts): string {
  const network = (o.network ?? 'slirp4netns').split(':')[0];
  return `run:${network}${(o.publish?.length ?? 0) > 0 || o.publishAll ? '+ports' : ''}`;
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('Run a command in a throw-away container of IMAGE (pulled when missing), or of an unpacked root filesystem (--rootfs DIR). The exit code is the command\'s.')
    .usage('[options] IMAGE [--] [COMMAND...]  |  flux run --rootfs DIR [options] -- COMMAND...')
    .argument('[image]', 'image reference, image ID, or oci:DIR[:tag] / oci-archive:FILE / docker-archive:FILE')
    .argument('[command...]', 'command and arguments (default: the image\'s entrypoint and cmd)')
    .option('-d, --detach', 'leave the container running under its own monitor and print its ID once the command runs')
    .option('--log-max-size <size>', 'with -d: the size (e.g. 10m, the default) at which the log is rotated; two are kept')
    .option('--rootfs <dir>', 'run in this unpacked root filesystem instead of an image (never written: a throw-away overlay goes on top)')
    .passThroughOptions();
  addRunOptions(cmd).action(async (image: string | undefined, command: string[], o: CliRunOpts & { rootfs?: string; detach?: boolean; rm?: boolean; logMaxSize?: string }) => {
    const { runCommand } = await import('../commands/run-image.js');
    lastRunKind = kindOf(o);
    process.exitCode = await runCommand(image, command, o);
  });
}
