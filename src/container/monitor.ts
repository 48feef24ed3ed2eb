/**
 * The monitor of a detached container (`flux run -d`): a process of its own (setsid, no
 * terminal) that flux starts and leaves behind, as podman leaves conmon. It runs the container
 * as a foreground run would, with the output going to the container's log, holds its network
 * helper and port forwards for as long as it runs, passes on the signals `flux stop` and
 * `flux kill` send it, and records the exit status and end time. Until the command runs it
 * tells the flux that started it how things go through fd 3; then flux leaves.
 */
import { closeSync, existsSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FluxError, isFluxError } from '../errors.js';
import { runCommand, type RunOptions, type RunTarget } from './run-container.js';
import { LogSplitter, LogWriter, type LogLine } from './container-log.js';
import { startTime } from './container-proc.js';
import { recordEvent } from './container-events.js';
import { removeState, stateDir, writeState, type ContainerState } from './container-state.js';
import { removeContainerLayer } from './container-layer.js';

/** What flux hands its monitor: the container's record and the run's options. */
export interface MonitorSpec {
  state: Omit<ContainerState, 'status' | 'monitorPid' | 'monitorStart'>;
  target: RunTarget;
  cmd: string[];
  options: RunOptions;
  /** The log's cap (see LogWriter); default DEFAULT_LOG_MAX. */
  logMaxBytes?: number;
}

export const DEFAULT_LOG_MAX = 10 * 1024 * 1024;

/** Messages to the starting flux, one JSON line each. */
export type StartMessage = { say: string } | { running: true } | { error: { code: string; message: string; hint?: string; exitCode: number } };

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export async function runMonitor(root: string, id: string): Promise<void> {
  const dir = stateDir(root, id);
  const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8')) as MonitorSpec;
  let channel: number | undefined = 3;
  const tell = (m: StartMessage): void => {
    if (channel === undefined) return;
    try {
      writeSync(channel, `${JSON.stringify(m)}\n`);
    } catch {
      // The flux that started it is gone: nobody to tell.
    }
  };
  const letGo = (): void => {
    if (channel === undefined) return;
    try {
      closeSync(channel);
    } catch {
      /* closed */
    }
    channel = undefined;
  };
  const state: ContainerState = { ...spec.state, status: 'created', monitorPid: process.pid, monitorStart: startTime(process.pid) ?? 0 };
  writeState(root, state);
  recordEvent(root, { id, name: state.name, event: 'created' });

  const writer = new LogWriter(join(dir, 'log'), spec.logMaxBytes ?? DEFAULT_LOG_MAX);
  const log = (l: LogLine): void => {
    try {
      writer.write(l);
    } catch {
      // A full disk loses lines, not the container.
    }
  };
  const line = (stream: 'stdout' | 'stderr') => new LogSplitter((l) => log({ stream, time: new Date().toISOString(), line: l }));
  const out = line('stdout');
  const err = line('stderr');

  // A signal before the sandbox exists is held for it; SIGALRM stands for SIGKILL of every
  // process of the container (a SIGKILL would end the monitor, not the container).
  let kill: ((sig: NodeJS.Signals) => void) | undefined;
  let pending: NodeJS.Signals | undefined;
  const pass = (sig: NodeJS.Signals): void => {
    if (kill) kill(sig);
    else pending = sig === 'SIGKILL' || pending === 'SIGKILL' ? 'SIGKILL' : sig;
  };
  for (const sig of FORWARDED) process.on(sig, () => pass(sig));
  process.on('SIGALRM', () => pass('SIGKILL'));
  process.on('SIGPIPE', () => undefined);

  let helperPid: number | undefined;
  let code: number | null = null;
  try {
    code = await runCommand(spec.target, spec.cmd, spec.options, {
      stdout: (c) => out.push(c),
      stderr: (c) => err.push(c),
      onSpawn(k, pid) {
        kill = k;
        // A second sandbox (the copy fallback) may replace the first: the last one is the container's.
        helperPid = pid;
        if (pending) k(pending);
      },
      onStarted() {
        if (state.status === 'running') return;
        state.status = 'running';
        state.startedAt = new Date().toISOString();
        if (helperPid !== undefined) state.helperPid = helperPid;
        writeState(root, state);
        recordEvent(root, { id, name: state.name, event: 'started' });
        tell({ running: true });
        letGo();
      },
      onProcess: (p) => writeFileSync(join(dir, 'process.json'), JSON.stringify(p), { mode: 0o600 }),
      say: (text) => {
        if (channel !== undefined) tell({ say: text });
        else log({ stream: 'stderr', time: new Date().toISOString(), line: text.replace(/\n$/, '') });
      },
    });
  } catch (e) {
    const fe = isFluxError(e) ? e : new FluxError('MONITOR', `${(e as Error).message}.`);
    state.error = fe.hint ? `${fe.message} ${fe.hint}` : fe.message;
    code = fe.exitCode;
    if (channel !== undefined) tell({ error: { code: fe.code, message: fe.message, ...(fe.hint ? { hint: fe.hint } : {}), exitCode: fe.exitCode } });
    else log({ stream: 'stderr', time: new Date().toISOString(), line: `flux: ${state.error}` });
  }
  out.end();
  err.end();
  writer.close();
  // One that never started is the starting flux's to report and to remove.
  if (state.status !== 'running') return letGo();
  state.status = 'exited';
  state.exitCode = code;
  state.finishedAt = new Date().toISOString();
  recordEvent(root, { id, name: state.name, event: 'exited', exitCode: code });
  if (!spec.state.autoRemove) writeState(root, state);
  letGo();
  if (state.helperPid !== undefined) await reaped(state.helperPid);
  // --rm: the writable layer goes (the helper has let go of it by now), then the state, so
  // whoever waits for the state to go finds nothing of the container left.
  if (spec.state.autoRemove) {
    await removeContainerLayer(state.store, id);
    removeState(root, state);
  }
}

/**
 * The helper has said it is done but may not have exited yet: the monitor waits until Node has
 * reaped it (briefly), so no zombie is left to whatever process adopts orphans.
 */
async function reaped(pid: number): Promise<void> {
  for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 10));
}
