/** `flux run`: the flags become the run's options; the run is the library's, with the host's terminal and signals. */
import { FluxError } from '../errors.js';
import { runOptionsFromCli, type CliRunOpts } from '../flags/run-flags.js';
import { hostRun } from '../library/host-run.js';

export async function runCommand(image: string | undefined, command: string[], o: CliRunOpts & { rootfs?: string }): Promise<number> {
  if (o.rootfs !== undefined) {
    // Every operand is the command: `flux run --rootfs DIR -- sh -c …`.
    const all = image === undefined ? command : [image, ...command];
    return hostRun({ rootfs: o.rootfs }, all[0] === '--' ? all.slice(1) : all, runOptionsFromCli(o));
  }
  if (image === undefined || image === '--') {
    throw new FluxError('USAGE', 'flux run needs an image (or --rootfs DIR).', { hint: 'Write flux run IMAGE [--] [COMMAND...], or flux run --rootfs DIR -- COMMAND....', exitCode: 125 });
  }
  return hostRun(image, command[0] === '--' ? command.slice(1) : command, runOptionsFromCli(o));
}
