/**
 * Starts a detached container in this flux process, as a foreground run starts one, except that
 * the sandbox helper is started as the container's monitor (native/monitor.c): it writes the
 * command's output to the container's log, holds its network and records its end, while flux
 * returns as soon as the command runs. A container that could not start is removed again and its
 * reason becomes flux's error.
 */
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { FluxError } from '../errors.js';
import { Store } from '../../store/store.js';
import { claimName, newId, randomName, removeState, releaseName, stateDir, writeState, type ContainerState } from './container-state.js';
import { runCommand, type RunOptions, type RunTarget } from './run-container.js';
import { parseLogSize } from './container-log.js';
import { claimContainerLayer, removeContainerLayer } from './container-layer.js';
import { recordEvent } from './container-events.js';
import { startTime } from './container-proc.js';
import { parseSignal } from './stop-signal.js';
import { stopSignal } from './container-ops.js';
import { writeEndWork } from './ended.js';
import { describeForward } from '../sandbox/publish-spec.js';
import type { PortForward } from '../sandbox/network-types.js';
import type { HandedMember } from './user-networks.js';

export interface DetachOptions {
  name?: string;
  /** Remove the container when it ends (--rm). */
  autoRemove: boolean;
  /** The log's cap in bytes (past it the log becomes log.1); default DEFAULT_LOG_MAX. */
  logMaxBytes?: number;
  /** flux's notices while the container starts (pulling the image, warnings). */
  say?: (text: string) => void;
}

export const DEFAULT_LOG_MAX = 10 * 1024 * 1024;

/**
 * What the monitor execs when the container has ended and flux has work left then: flux itself
 * (bin/flux.js, which loads the bundle with its code cache) when it is there, else the module of
 * that step (a library without the command line).
 */
function endArgv(root: string, id: string): string[] {
  const here = import.meta.dirname;
  const bin = join(here, '../../../bin/flux.js');
  return existsSync(bin) ? [process.execPath, bin, '__ended', root, id] : [process.execPath, join(here, 'ended-main.js'), root, id];
}

/** A --log-max-size value in bytes, or a one-sentence refusal. */
export function logMaxBytes(text: string | number): number {
  const n = typeof text === 'number' ? (text >= 4096 ? text : undefined) : parseLogSize(text);
  if (n === undefined) throw new FluxError('BAD_LOG_SIZE', `the log size ${String(text)} is not a size of 4k or more.`, { hint: 'Write it as 10m, 512k or 1g.', exitCode: 125 });
  return n;
}

export async function startDetached(root: string, target: RunTarget, cmd: string[], o: RunOptions, d: DetachOptions): Promise<ContainerState> {
  const id = newId();
  const name = d.name ?? randomName();
  claimName(root, name, id);
  const dir = stateDir(root, id);
  // Until the command runs the container is this flux's: it shows as ended if flux dies first.
  const state: ContainerState = {
    id,
    name,
    image: typeof target === 'string' ? target : `rootfs:${target.rootfs}`,
    command: cmd,
    created: new Date().toISOString(),
    status: 'created',
    monitorPid: process.pid,
    monitorStart: startTime(process.pid) ?? 0,
    ports: o.publish,
    autoRemove: d.autoRemove,
    store: Store.open(o.store).root,
  };
  let errFd: number;
  try {
    // The directory first: the monitor writes the log there as soon as the command runs.
    mkdirSync(dir, { mode: 0o700 });
    // The monitor's own messages (and its network helper's) go to a file beside its state.
    errFd = openSync(join(dir, 'monitor.err'), 'a', 0o600);
  } catch (err) {
    releaseName(root, name, id);
    throw err;
  }
  // The rest of the state is written while the helper builds the container (meanwhile).
  const record = (): void => {
    // The run's options, for inspect (its mounts).
    writeFileSync(join(dir, 'spec.json'), JSON.stringify({ options: { volume: o.volume } }), { mode: 0o600 });
    writeState(root, state);
    claimContainerLayer(state.store!, id, dir);
    recordEvent(root, { id, name, event: 'created' });
  };
  let running = false;
  try {
    // Without --stop-signal the monitor's --timeout sends the image's StopSignal, which is known
    // only once the image is read: 0 here, and its number in stop-signal then (onProcess).
    const stopWith = o.stopSignal !== undefined ? constants.signals[parseSignal(o.stopSignal, '--stop-signal')] : 0;
    // The name chosen here is the container's inside too: on a user network, its name there.
    await runCommand(target, cmd, { ...o, name, interactive: false, tty: false, containerId: id }, {
      stdout: () => undefined,
      stderr: () => undefined,
      ...(d.say ? { say: d.say } : {}),
      monitor: {
        dir,
        events: join(root, 'events'),
        id,
        name,
        logMaxBytes: d.logMaxBytes ?? DEFAULT_LOG_MAX,
        timeoutSec: o.timeout !== undefined ? Math.ceil(o.timeout) : 0,
        stopSignal: stopWith,
        end: endArgv(root, id),
        errFd,
      },
      onProcess: (p) => {
        writeFileSync(join(dir, 'process.json'), JSON.stringify(p), { mode: 0o600 });
        if (p.stopSignal !== undefined) writeFileSync(join(dir, 'stop-signal'), String(constants.signals[stopSignal(p.stopSignal)]), { mode: 0o600 });
      },
      meanwhile: () => {
        try {
          record();
        } catch {
          // Tried again once the command runs, where a failure is the run's.
        }
      },
      onRunning(monitorPid, handed) {
        if (!existsSync(join(dir, 'state.json'))) record();
        const { published, ...work } = handed;
        writeEndWork(dir, { autoRemove: d.autoRemove, store: state.store!, ...work });
        Object.assign(state, { status: 'running', ports: portsMade(published, handed.network), startedAt: new Date().toISOString(), monitorPid, monitorStart: startTime(monitorPid) ?? 0, helperPid: monitorPid });
        // The event first: a stop or kill waiting for the start (settled) acts once the state says
        // running, and records its own event then, which must come after this one.
        recordEvent(root, { id, name, event: 'started' });
        writeState(root, state);
        running = true;
      },
    });
  } catch (err) {
    await forget(root, state);
    throw err;
  } finally {
    closeSync(errFd);
  }
  if (running) return state;
  await forget(root, state);
  throw new FluxError('MONITOR', 'the container\'s monitor ended before the command started.', { hint: 'Run it without -d to see why.', exitCode: 125 });
}

/**
 * The forwards as made, as docker shows them (`0.0.0.0:49153->80/tcp`): the host ports that -P
 * and `-p 80` left to flux are known only now, on the default network and on a user network.
 */
function portsMade(published: PortForward[] | undefined, member: HandedMember | undefined): string[] {
  return [...(published ?? []).map(describeForward), ...(member?.member.forwards ?? []).flatMap((f) => (f.port ? [f.port] : []))];
}

/** A container that did not start leaves nothing: its state, name and writable layer go. */
async function forget(root: string, state: ContainerState): Promise<void> {
  removeState(root, { ...state, status: 'exited' });
  await removeContainerLayer(state.store, state.id);
}
