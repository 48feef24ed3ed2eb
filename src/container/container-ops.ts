/**
 * What can be done to a detached container from any flux process: read its status (its monitor
 * alive or not), its usage from /proc, signal it through its monitor, wait for it, remove it.
 * All through its state directory and signals: there is no server to ask.
 */
import { constants } from 'node:os';
import { FluxError } from '../errors.js';
import { blockIo, initPid, members, netBytes, ProcSnapshot, sameProcess, usage } from './container-proc.js';
import { readState, removeState, stateDir, type ContainerState } from './container-state.js';
import { recordEvent } from './container-events.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeContainerLayer } from './container-layer.js';
import { parseSignal } from './stop-signal.js';

export interface ContainerStatus {
  state: 'created' | 'running' | 'exited';
  /** null when it is unknown (the monitor was killed) or the container still runs. */
  exitCode: number | null;
  /** The container's init on the host, while it runs. */
  pid: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** The port forwards made for it, as docker shows them: `0.0.0.0:49153->80/tcp`. */
  ports: string[];
}

/** Whether the monitor that the state names still runs. */
export function monitorAlive(s: ContainerState): boolean {
  return s.monitorPid > 0 && sameProcess(s.monitorPid, s.monitorStart);
}

/** The state as it is: a container whose monitor died without a word has exited, code unknown. */
export function current(s: ContainerState): ContainerState {
  if (s.status === 'exited' || monitorAlive(s)) return s;
  return { ...s, status: 'exited', exitCode: null, finishedAt: s.finishedAt ?? s.startedAt ?? s.created };
}

/**
 * current() for a state just read from `root`, when the answer is final (wait, stop): the
 * monitor writes the exit record and then exits, so a state read before the record appeared and
 * judged after the monitor was gone would say "code unknown". Read again once the monitor is
 * seen gone: the record is there now if the monitor ever wrote it.
 */
export function currentIn(root: string, s: ContainerState): ContainerState {
  const c = current(s);
  if (c.status !== 'exited' || s.status === 'exited') return c;
  const again = readState(root, s.id);
  return again?.status === 'exited' ? again : c;
}

export function statusOf(s: ContainerState): ContainerStatus {
  const c = current(s);
  const init = c.status === 'running' && c.helperPid ? initPid(c.helperPid) : undefined;
  return { state: c.status, exitCode: c.status === 'exited' ? (c.exitCode ?? null) : null, pid: init ?? null, startedAt: c.startedAt ?? null, finishedAt: c.finishedAt ?? null, ports: c.ports };
}

/** The container's processes on the host: the members of its init's pid namespace. */
export function processesOf(s: ContainerState, snap = new ProcSnapshot()): number[] {
  const c = current(s);
  if (c.status !== 'running' || !c.helperPid) return [];
  const init = initPid(c.helperPid, snap);
  return init === undefined ? [] : members(init, snap);
}

/**
 * A process of the running container whose namespaces and root can be joined: a child of init
 * (init is not dumpable, so its /proc entries are closed to us). One pass over /proc, without
 * reading every process's namespace as processesOf does.
 */
export function joinableProcess(s: ContainerState): number | undefined {
  const c = current(s);
  if (c.status !== 'running' || !c.helperPid) return undefined;
  const snap = new ProcSnapshot();
  const init = initPid(c.helperPid, snap);
  if (init === undefined) return undefined;
  let first: number | undefined;
  for (const [pid, f] of snap.stats) if (Number(f[1]) === init && (first === undefined || pid < first)) first = pid;
  return first;
}

export interface ContainerStats {
  cpuPercent: number;
  memoryBytes: number;
  pids: number;
  /** Bytes in and out of the container's network namespace (loopback left out). */
  netRxBytes: number;
  netTxBytes: number;
  /** Bytes read from and written to storage by its processes (/proc/PID/io); null where unreadable. */
  blockReadBytes: number | null;
  blockWriteBytes: number | null;
}

/** The stats of a container that does not run. */
export const NO_STATS: ContainerStats = { cpuPercent: 0, memoryBytes: 0, pids: 0, netRxBytes: 0, netTxBytes: 0, blockReadBytes: null, blockWriteBytes: null };

const TICK = 100;

/** CPU over a short sample, memory and process count now, summed over the container's processes. */
export async function statsOf(s: ContainerState, sampleMs = 100): Promise<ContainerStats> {
  return (await statsOfAll([s], sampleMs))[0]!;
}

/** The same for many containers over one sample: two passes over /proc in all. */
export async function statsOfAll(states: ContainerState[], sampleMs = 100): Promise<ContainerStats[]> {
  const first = new ProcSnapshot();
  const before = states.map((s) => usage(processesOf(s, first), first));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, sampleMs));
  const second = new ProcSnapshot();
  const seconds = (performance.now() - t0) / 1000;
  return states.map((s, i) => {
    const pids = processesOf(s, second);
    const after = usage(pids, second);
    const cpu = Math.max(0, after.ticks - before[i]!.ticks) / TICK / seconds;
    // Init is not dumpable: the network is read through one of the image's processes.
    const net = pids[1] !== undefined ? netBytes(pids[1]) : { rx: 0, tx: 0 };
    const io = blockIo(pids);
    return {
      cpuPercent: Math.round(cpu * 1000) / 10,
      memoryBytes: after.rss,
      pids: after.pids,
      netRxBytes: net.rx,
      netTxBytes: net.tx,
      blockReadBytes: io?.read ?? null,
      blockWriteBytes: io?.write ?? null,
    };
  });
}

/**
 * The state once the container has started or failed to: while it is created, the pid it names
 * is the starting flux, not a monitor, and a signal there would end that flux halfway. undefined:
 * the start failed and the starting flux removed it.
 */
export async function settled(root: string, s: ContainerState): Promise<ContainerState | undefined> {
  let now: ContainerState | undefined = s;
  while (now !== undefined && current(now).status === 'created') {
    await new Promise((r) => setTimeout(r, 50));
    now = readState(root, s.id);
  }
  return now;
}

/**
 * Sends a signal to the container's command (SIGKILL: to every process of the container); false
 * when there is none yet (created: see settled) or no more.
 */
export function signalContainer(root: string, s: ContainerState, sig: NodeJS.Signals): boolean {
  const c = current(s);
  if (c.status !== 'running') return false;
  // The monitor passes signals on; SIGALRM tells it to kill the whole container.
  const sent = sig === 'SIGKILL' ? 'SIGALRM' : sig;
  if (constants.signals[sent] === undefined) throw new FluxError('BAD_SIGNAL', `${sig} is not a signal.`, { hint: 'Name one such as SIGTERM or SIGKILL.', exitCode: 125 });
  try {
    process.kill(c.monitorPid, 0);
  } catch {
    return false;
  }
  // Recorded before it is sent: the monitor records the exit it causes, which must come after.
  recordEvent(root, { id: s.id, name: s.name, event: 'signalled', signal: sig, by: process.pid });
  try {
    process.kill(c.monitorPid, sent);
  } catch {
    return false;
  }
  return true;
}

/** Resolves with the state once the container has exited (or its monitor is gone), or at the deadline. */
export async function waitExited(root: string, id: string, deadlineMs = Infinity): Promise<ContainerState | undefined> {
  const until = performance.now() + deadlineMs;
  for (;;) {
    const s = readState(root, id);
    if (s === undefined) return undefined;
    const c = currentIn(root, s);
    if (c.status === 'exited') return c;
    if (performance.now() >= until) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The signal an image's StopSignal names (`SIGTERM`, `TERM`, `15`), or SIGTERM for none or one
 * this host does not know: a foreign image's choice is no reason to refuse a stop.
 */
export function stopSignal(raw: string | undefined): NodeJS.Signals {
  if (raw === undefined || raw === '') return 'SIGTERM';
  try {
    return parseSignal(raw, 'StopSignal');
  } catch {
    return 'SIGTERM';
  }
}

function imageStopSignal(root: string, s: ContainerState): NodeJS.Signals {
  try {
    return stopSignal((JSON.parse(readFileSync(join(stateDir(root, s.id), 'process.json'), 'utf8')) as { stopSignal?: string }).stopSignal);
  } catch {
    return 'SIGTERM';
  }
}

/**
 * The image's StopSignal (default SIGTERM), then after `timeoutSec` SIGKILL of every process of
 * the container; resolves once it ended.
 */
export async function stopContainer(root: string, start: ContainerState, timeoutSec = 10, chosen?: NodeJS.Signals): Promise<ContainerState | undefined> {
  const s = await settled(root, start);
  if (s === undefined || currentIn(root, s).status === 'exited') return s && currentIn(root, s);
  const signal = chosen ?? imageStopSignal(root, s);
  if (timeoutSec > 0) {
    signalContainer(root, s, signal);
    const after = await waitExited(root, s.id, timeoutSec * 1000);
    if (after === undefined || after.status === 'exited') return after;
  }
  signalContainer(root, s, 'SIGKILL');
  return waitExited(root, s.id);
}

/** Removes a container that has ended; with force, one that runs is killed first. */
export async function removeContainer(root: string, s: ContainerState, force: boolean): Promise<void> {
  if (current(s).status !== 'exited') {
    if (!force) {
      throw new FluxError('CONTAINER_RUNNING', `the container ${s.name} is running.`, { hint: `Stop it first (flux stop ${s.name}) or use flux rm -f.`, exitCode: 125 });
    }
    await stopContainer(root, s, 0);
  }
  const { endBeforeRemove } = await import('./ended.js');
  await endBeforeRemove(root, s.id);
  removeState(root, s);
  // The writable layer (the run directory in the store) has stayed since the container ended.
  await removeContainerLayer(s.store, s.id);
}
