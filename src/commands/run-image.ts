/** `flux run`: the flags become the run's options; the run is the library's, with the host's terminal and signals. */
import { FluxError } from '../errors.js';
import { runOptionsFromCli, type CliRunOpts } from '../flags/run-flags.js';
import { hostDetach, hostRun, type ContainerOptions, type RunTarget } from '../library/host-run.js';

export async function runCommand(image: string | undefined, command: string[], o: CliRunOpts & { rootfs?: string; detach?: boolean; rm?: boolean; logMaxSize?: string }): Promise<number> {
  const run = o.detach ? detached(o) : hostRun;
  if (o.rootfs !== undefined) {
    // Every operand is the command: `flux run --rootfs DIR -- sh -c …`.
    const all = image === undefined ? command : [image, ...command];
    return run({ rootfs: o.rootfs }, all[0] === '--' ? all.slice(1) : all, runOptionsFromCli(o));
  }
  if (image === undefined || image === '--') {
    throw new FluxError('USAGE', 'flux run needs an image (or --rootfs DIR).', { hint: 'Write flux run IMAGE [--] [COMMAND...], or flux run --rootfs DIR -- COMMAND.', exitCode: 125 });
  }
  return run(image, command[0] === '--' ? command.slice(1) : command, runOptionsFromCli(o));
}

/** `flux run -d`: the container's full ID on stdout once its command runs. */
function detached(o: { tty?: boolean; interactive?: boolean; rm?: boolean; quiet?: boolean; logMaxSize?: string }) {
  if (o.tty || o.interactive) {
    throw new FluxError('USAGE', 'a detached container has no terminal or stdin (-d with -i or -t).', { hint: 'Leave out -i and -t, and use flux exec for a shell in it.', exitCode: 125 });
  }
  return async (target: RunTarget, cmd: string[], opts: ContainerOptions): Promise<number> => {
    const id = await hostDetach(target, cmd, opts, { autoRemove: o.rm ?? false, ...(o.logMaxSize !== undefined ? { logMaxSize: o.logMaxSize } : {}) }, (text) => {
      if (!o.quiet) process.stderr.write(text);
    });
    process.stdout.write(`${id}\n`);
    return 0;
  };
}
