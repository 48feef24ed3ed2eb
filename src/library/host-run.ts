/**
 * The command line's entry into a run, kept apart from foreground-run.ts so that a warm `flux run`
 * loads only what it uses.
 */
import { runCommand, type RunIO, type RunOptions as ContainerOptions, type RunTarget } from '../container/run-container.js';

export type { ContainerOptions, RunIO, RunTarget };
export { parsePullPolicy } from '../pull/pull-policy.js';

/**
 * The command line's runs: `flux run` with the host's own stdio and terminal and the host's
 * signals forwarded to the container (no io), or a `flux matrix` run with its output and its
 * signalling in the caller's hands (io). A library caller gets neither; see foregroundRun.
 */
export function hostRun(target: RunTarget, cmd: string[], o: ContainerOptions, io?: RunIO): Promise<number> {
  return runCommand(target, cmd, o, io);
}
