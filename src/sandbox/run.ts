/**
 * The run supervisor: starts the native helper with a plan, writes the id maps and wires the
 * network while the helper waits, forwards signals, handles the host terminal for -t, and turns
 * the helper's records into one-sentence errors. The helper removes the run's state itself
 * (inside the user namespace, where the image's sub-uid files can be deleted).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Socket } from 'node:net';
import { FluxError } from '../errors.js';
import { lap } from './timing.js';
import { helperPath, errnoText } from '../native/helper.js';
import type { NetworkAttachment } from './network-types.js';
import { mapFailure, type IdMaps } from './idmap.js';
import { buildPlan, encodePlan, type SandboxSpec } from './plan.js';
import { onRecords, setupError, writeIdMaps } from './userns.js';

export interface SupervisorOptions {
  maps?: IdMaps;
  network: NetworkAttachment;
  /** Pass the host's stdin to the command (-i). */
  interactive: boolean;
  /** Called when the namespaces exist, before the command starts (e.g. to join a cgroup). */
  onPid?: (pid: number) => Promise<void>;
  onRootfsKind?: (kind: string) => void;
  onWarning?: (text: string) => void;
  /** Where the command's stdout and stderr go instead of the host's (fds 1 and 2 become pipes). */
  output?: { stdout(chunk: Buffer): void; stderr(chunk: Buffer): void };
  /**
   * Receives a way to signal this run. The caller then owns its signalling: the host's signals
   * are not forwarded to it (a matrix passes each one on itself, once).
   */
  onSpawn?: (kill: (sig: NodeJS.Signals) => void) => void;
}

export interface SupervisorResult {
  code: number;
  /** Set when the sandbox could not be built (the command never ran). */
  setupError?: FluxError;
  rootfsKind?: string;
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

/**
 * One listener per signal for every run in progress, installed while any run wants the host's
 * signals: many runs in one process add no listeners, and with none left the defaults return.
 */
const forwarding = new Set<(sig: NodeJS.Signals) => void>();
const dispatch = (sig: NodeJS.Signals): void => {
  for (const kill of forwarding) kill(sig);
};

function forwardSignals(kill: (sig: NodeJS.Signals) => void): () => void {
  if (forwarding.size === 0) for (const sig of FORWARDED) process.on(sig, dispatch);
  forwarding.add(kill);
  return () => {
    if (!forwarding.delete(kill) || forwarding.size > 0) return;
    for (const sig of FORWARDED) process.off(sig, dispatch);
  };
}

export function runSandbox(spec: SandboxSpec, opts: SupervisorOptions): Promise<SupervisorResult> {
  const plan = encodePlan(buildPlan(spec));
  const useStdin = opts.interactive || (spec.tty?.stdin ?? false);
  const out = opts.output;
  const rawTty = out === undefined && spec.tty !== undefined && process.stdin.isTTY === true;
  if (rawTty) process.stdin.setRawMode(true);
  // Setsid (detached): terminal signals reach flux only, which forwards them exactly once.
  const child = spawn(helperPath(), ['run', '3'], {
    stdio: [useStdin && out === undefined ? 'inherit' : 'ignore', out ? 'pipe' : 'inherit', out ? 'pipe' : 'inherit', 'pipe'],
    detached: true,
    env: {},
  });
  const ctl = child.stdio[3] as Socket;
  // The plan first: the helper waits for it, and can start while the handlers below are set up.
  ctl.write(plan);
  let failure: FluxError | undefined;
  let kind: string | undefined;

  if (out) {
    child.stdout?.on('data', (c: Buffer) => out.stdout(c));
    child.stderr?.on('data', (c: Buffer) => out.stderr(c));
  }
  const kill = (sig: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const unforward = opts.onSpawn ? () => undefined : forwardSignals(kill);
  opts.onSpawn?.(kill);

  onRecords(ctl, (rec) => {
    switch (rec.kind) {
      case 'ready': {
        lap('helper ready');
        const pid = child.pid ?? 0;
        const steps: Promise<unknown>[] = [];
        if (spec.userns && opts.maps && !spec.idmap) steps.push(writeIdMaps(pid, opts.maps));
        if (spec.newNet) steps.push(opts.network.attach(pid));
        if (opts.onPid) steps.push(opts.onPid(pid));
        Promise.all(steps).then(
          () => {
            lap('maps written');
            ctl.write('G\n');
          },
          (err: unknown) => {
            failure ??= err instanceof FluxError ? err : new FluxError('SANDBOX_SETUP', `${(err as Error).message}.`, { cause: err });
            ctl.write('A\n');
          },
        );
        break;
      }
      case 'rootfs':
        kind = rec.value;
        opts.onRootfsKind?.(rec.value);
        break;
      case 'error':
        failure ??= setupError(rec);
        break;
      case 'exec':
        failure ??=
          rec.errno === 2
            ? new FluxError('EXEC_NOT_FOUND', `${rec.cmd}: executable file not found in $PATH.`, {
                hint: 'Check the command name, or the image\'s PATH.',
                exitCode: 127,
              })
            : new FluxError('EXEC_DENIED', `${rec.cmd}: ${errnoText(rec.errno).toLowerCase()}.`, {
                hint: 'The file is not an executable the container can run.',
                exitCode: 126,
              });
        break;
      case 'warning':
        opts.onWarning?.(rec.text);
        break;
      case 'mapfail':
        failure ??= opts.maps ? mapFailure(rec.tool, rec.text, opts.maps.user) : new FluxError('IDMAP', `${rec.tool} failed: ${rec.text}.`);
        break;
    }
  });

  return new Promise((resolve) => {
    child.on('error', (err) => {
      failure ??= new FluxError('HELPER', `cannot start the sandbox helper: ${err.message}.`, { hint: 'Rebuild it with `npm run build`.' });
    });
    child.on('close', (code, signal) => {
      if (rawTty) process.stdin.setRawMode(false);
      unforward();
      const status = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 125);
      if (failure && (failure.code === 'EXEC_NOT_FOUND' || failure.code === 'EXEC_DENIED')) {
        resolve({ code: status, setupError: failure, ...(kind ? { rootfsKind: kind } : {}) });
        return;
      }
      resolve({ code: status, ...(failure ? { setupError: failure } : {}), ...(kind ? { rootfsKind: kind } : {}) });
    });
  });
}
