/**
 * The command line's entry into a run, kept apart from foreground-run.ts so that a warm `flux run`
 * loads only what it uses.
 */
import { runCommand, type RunIO, type RunOptions as ContainerOptions, type RunTarget } from '../container/run-container.js';

export type { ContainerOptions, RunIO, RunTarget };
export { parsePullPolicy } from '../pull/pull-policy.js';
export { checkTimeout } from '../container/run-timeout.js';

/**
 * The command line's runs: `flux run` with the host's own stdio and terminal and the host's
 * signals forwarded to the container (no io), or a `flux matrix` run with its output and its
 * signalling in the caller's hands (io). A library caller gets neither; see foregroundRun.
 */
export function hostRun(target: RunTarget, cmd: string[], o: ContainerOptions, io?: RunIO): Promise<number> {
  return runCommand(target, cmd, o, io);
}

/** `flux run -d`: a container left running under its monitor; resolves with its ID once the command runs. */
export async function hostDetach(target: RunTarget, cmd: string[], o: ContainerOptions, d: { autoRemove: boolean; logMaxSize?: string }, say: (text: string) => void): Promise<string> {
  const [{ containersRoot }, { startDetached, logMaxBytes }] = await Promise.all([import('../container/container-state.js'), import('../container/start-detached.js')]);
  const max = d.logMaxSize !== undefined ? logMaxBytes(d.logMaxSize) : undefined;
  const s = await startDetached(containersRoot(o.runtimeDir), target, cmd, o, { ...(o.name !== undefined ? { name: o.name } : {}), autoRemove: d.autoRemove, ...(max !== undefined ? { logMaxBytes: max } : {}), say });
  return s.id;
}
