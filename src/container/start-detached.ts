/**
 * Starts a detached container: its state directory and name, then its monitor (monitor.ts),
 * which flux leaves running once the command runs. A container that could not start is removed
 * again and its reason becomes flux's error.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { FluxError } from '../errors.js';
import { Store } from '../../store/store.js';
import { claimName, newId, randomName, removeState, releaseName, stateDir, type ContainerState } from './container-state.js';
import type { RunOptions, RunTarget } from './run-container.js';
import type { MonitorSpec, StartMessage } from './monitor.js';
import { parseLogSize } from './container-log.js';
import { claimContainerLayer, removeContainerLayer } from './container-layer.js';

export interface DetachOptions {
  name?: string;
  /** Remove the container when it ends (--rm). */
  autoRemove: boolean;
  /** The log's cap in bytes (see LogWriter). */
  logMaxBytes?: number;
  /** flux's notices while the container starts (pulling the image, warnings). */
  say?: (text: string) => void;
}

/**
 * The monitor's command line: flux itself (bin/flux.js, which loads the bundle with its code
 * cache) when it is there, else the monitor's own module (a library without the command line).
 */
function monitorArgv(root: string, id: string): string[] {
  const here = import.meta.dirname;
  const bin = join(here, '../../../bin/flux.js');
  return existsSync(bin) ? [bin, '__monitor', root, id] : [join(here, 'monitor-main.js'), root, id];
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
  const state: MonitorSpec['state'] = {
    id,
    name,
    image: typeof target === 'string' ? target : `rootfs:${target.rootfs}`,
    command: cmd,
    created: new Date().toISOString(),
    ports: o.publish,
    autoRemove: d.autoRemove,
    store: Store.open(o.store).root,
  };
  try {
    mkdirSync(dir, { mode: 0o700 });
    const spec: MonitorSpec = { state, target, cmd, options: { ...o, interactive: false, tty: false, containerId: id }, ...(d.logMaxBytes !== undefined ? { logMaxBytes: d.logMaxBytes } : {}) };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec), { mode: 0o600 });
    claimContainerLayer(state.store!, id, dir);
  } catch (err) {
    releaseName(root, name, id);
    throw err;
  }
  // The monitor's own failures (not the command's output) go to a file beside its state.
  const errFd = openSync(join(dir, 'monitor.err'), 'a', 0o600);
  const child = spawn(process.execPath, monitorArgv(root, id), { stdio: ['ignore', errFd, errFd, 'pipe'], detached: true, cwd: process.cwd() });
  closeSync(errFd);
  const channel = child.stdio[3] as Readable;
  const outcome = await new Promise<StartMessage | undefined>((resolve) => {
    let text = '';
    let done = false;
    const finish = (m: StartMessage | undefined): void => {
      if (done) return;
      done = true;
      resolve(m);
    };
    channel.setEncoding('utf8');
    channel.on('data', (chunk: string) => {
      text += chunk;
      let nl;
      while ((nl = text.indexOf('\n')) >= 0) {
        const m = JSON.parse(text.slice(0, nl)) as StartMessage;
        text = text.slice(nl + 1);
        if ('say' in m) d.say?.(m.say);
        else finish(m);
      }
    });
    channel.on('close', () => finish(undefined));
    channel.on('error', () => finish(undefined));
    child.on('error', () => finish(undefined));
  });
  channel.destroy();
  child.unref();
  if (outcome && 'running' in outcome) return { ...state, status: 'running', monitorPid: child.pid ?? 0, monitorStart: 0 };
  removeState(root, { ...state, status: 'exited', monitorPid: 0, monitorStart: 0 });
  await removeContainerLayer(state.store, id);
  if (outcome && 'error' in outcome) {
    const e = outcome.error;
    throw new FluxError(e.code, e.message, { ...(e.hint ? { hint: e.hint } : {}), exitCode: e.exitCode });
  }
  throw new FluxError('MONITOR', 'the container\'s monitor ended before the command started.', { hint: 'Run it without -d to see why.', exitCode: 125 });
}
