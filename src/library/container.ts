/**
 * A container that outlives the call that started it (`flux.run({ detach: true })`, `flux run -d`):
 * a handle on its state directory. Every method reads the state afresh, so a handle stays right
 * whatever another flux process did to the container meanwhile.
 */
import { sinceOption } from '../container/since-time.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FluxError } from '../errors.js';
import { readerGone } from '../host-output.js';
import { parseSignal } from '../container/stop-signal.js';
import type { OutputTarget, RunResult } from './api-types.js';
import { findState, listStates, logPath, readState, type ContainerState } from '../container/container-state.js';
import { LogReader, type LogLine } from '../container/container-log.js';
import { NO_STATS, current, currentIn, removeContainer, settled, signalContainer, statsOf, statsOfAll, statusOf, stopContainer, waitExited, type ContainerStats, type ContainerStatus } from '../container/container-ops.js';

export type { ContainerStats, ContainerStatus, LogLine };
export { sinceTime } from '../container/since-time.js';
export type { PortMapping } from '../container/container-ports.js';
import type { PortMapping } from '../container/container-ports.js';
export type { ContainerEvent } from '../container/container-events.js';

/** A command run in a running container (`flux exec`): some of run()'s options. */
export interface ExecOptions {
  env?: string[] | Record<string, string>;
  user?: string;
  workdir?: string;
  stdin?: 'inherit' | 'ignore';
  stdout?: OutputTarget;
  stderr?: OutputTarget;
  /** A terminal for the command; its output then goes to the host's stdout. */
  tty?: boolean;
}

/** One row of `flux ps`: the record and its status, as `flux ps --format json` prints it. */
export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  command: string[];
  created: string;
  state: ContainerStatus['state'];
  exitCode: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  ports: string[];
}

export class Container {
  constructor(
    readonly id: string,
    readonly name: string,
    /** The containers' state directory (the runtime directory's containers/). */
    readonly root: string,
  ) {}

  private state(): ContainerState {
    const s = readState(this.root, this.id);
    if (!s) throw new FluxError('NO_CONTAINER', `the container ${this.name} no longer exists.`, { hint: 'List them with flux ps -a.', exitCode: 125 });
    return s;
  }

  /**
   * The state as it is now. Read through currentIn: a container ending between the state's read
   * and the look at its monitor would otherwise show as exited with its code unknown.
   */
  private now(): ContainerState {
    return currentIn(this.root, this.state());
  }

  status(): ContainerStatus {
    return statusOf(this.now());
  }

  info(): ContainerInfo {
    // No pid here: finding it takes a pass over /proc, which a listing of many must not pay per row.
    const s = this.now();
    const exitCode = s.status === 'exited' ? (s.exitCode ?? null) : null;
    return { id: s.id, name: s.name, image: s.image, command: s.command, created: s.created, state: s.status, exitCode, startedAt: s.startedAt ?? null, finishedAt: s.finishedAt ?? null, ports: s.ports };
  }

  /** The state, log path, mounts and lifecycle events, as `flux inspect NAME` prints them. */
  async inspect(): Promise<Record<string, unknown>> {
    const { readEvents } = await import('../container/container-events.js');
    const s = this.now();
    const st = statusOf(s);
    let volumes: string[] = [];
    try {
      volumes = (JSON.parse(readFileSync(join(this.root, this.id, 'spec.json'), 'utf8')) as { options: { volume: string[] } }).options.volume;
    } catch {
      /* removed meanwhile */
    }
    return {
      Id: s.id,
      Name: s.name,
      Image: s.image,
      Command: s.command,
      Created: s.created,
      State: { Status: st.state, Running: st.state === 'running', Pid: st.pid, ExitCode: st.exitCode, StartedAt: st.startedAt, FinishedAt: st.finishedAt, Error: s.error ?? null },
      Ports: s.ports,
      Mounts: volumes,
      AutoRemove: s.autoRemove,
      LogPath: logPath(this.root, this.id),
      Events: readEvents(this.root).filter((e) => e.id === s.id),
    };
  }

  /** The port forwards made for it (the host ports -P and `-p 80` picked included), as `flux port` prints them. */
  async ports(port?: string): Promise<PortMapping[]> {
    const { mappingsFor, portMappings } = await import('../container/container-ports.js');
    const all = portMappings(this.state().ports);
    return port === undefined ? all : mappingsFor(all, port, this.name);
  }

  /** CPU %, resident memory and processes, summed over the container's processes (from /proc). */
  stats(): Promise<ContainerStats> {
    return statsOf(this.state());
  }

  /** The log's lines in order; with follow, new ones as they are written until the container ends. */
  async *logs(o: { follow?: boolean; tail?: number; since?: Date | string } = {}): AsyncGenerator<LogLine> {
    // Held open while following (see container-log.ts): the lines a --rm container writes last
    // are read after its state directory is gone, and none are lost at a rotation.
    const log = new LogReader(logPath(this.root, this.id));
    try {
      let lines = log.read();
      // ISO times in UTC compare as strings.
      const since = sinceOption(o.since)?.toISOString();
      if (since !== undefined) lines = lines.filter((l) => l.time >= since);
      if (o.tail !== undefined) lines = o.tail <= 0 ? [] : lines.slice(-o.tail);
      yield* lines;
      if (!o.follow) return;
      for (;;) {
        const s = readState(this.root, this.id);
        const ended = s === undefined || current(s).status === 'exited';
        yield* log.read();
        // Read once more after the end was seen: the monitor writes its last lines before it says so.
        if (ended) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      log.close();
    }
  }

  /**
   * Runs a command in the running container, as its own command runs (user, capabilities,
   * seccomp, environment); resolves as a foreground run() does, with the command's status.
   */
  async exec(command: string[], o: ExecOptions = {}): Promise<RunResult> {
    const started = performance.now();
    const { execInContainer } = await import('../container/exec-container.js');
    const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    // false once the host's stream was closed by its reader (`flux exec … | head -1`): the
    // command's stream is closed then, and the command ends as it would writing to a closed pipe.
    const sink = (target: ExecOptions['stdout'], name: 'stdout' | 'stderr', host: NodeJS.WriteStream) => (c: Buffer): boolean => {
      if (target === 'pipe') chunks[name].push(c);
      else if (target === undefined || target === 'inherit') {
        if (readerGone(host)) return false;
        host.write(c);
      } else if (target !== 'ignore') target.write(c);
      return true;
    };
    const exitCode = await execInContainer(this.root, this.state(), command, {
      env: Array.isArray(o.env) ? o.env : Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`),
      ...(o.user !== undefined ? { user: o.user } : {}),
      ...(o.workdir !== undefined ? { workdir: o.workdir } : {}),
      interactive: o.stdin === 'inherit',
      ...(o.tty ? { tty: true } : {}),
      // Through pipes unless a terminal goes straight to the host's.
      ...(o.tty && (o.stdout === undefined || o.stdout === 'inherit') ? {} : { output: { stdout: sink(o.stdout, 'stdout', process.stdout), stderr: sink(o.stderr, 'stderr', process.stderr) } }),
    });
    return {
      exitCode,
      ...(o.stdout === 'pipe' ? { stdout: Buffer.concat(chunks.stdout) } : {}),
      ...(o.stderr === 'pipe' ? { stderr: Buffer.concat(chunks.stderr) } : {}),
      durationMs: Math.round(performance.now() - started),
    };
  }

  /**
   * Sends the command a signal (SIGKILL: every process of the container), named as `flux kill -s`
   * takes it (KILL, SIGHUP, 10). A container still starting is signalled once its command runs; one
   * that is not running (ended, or failed to start) is refused, as docker and podman refuse it.
   */
  async kill(signal: NodeJS.Signals | string | number = 'SIGKILL'): Promise<void> {
    const sig = killSignal(signal);
    const s = await settled(this.root, this.state());
    if (!s || !signalContainer(this.root, s, sig)) {
      throw new FluxError('CONTAINER_NOT_RUNNING', `the container ${this.name} is not running, so it cannot be sent ${sig}.`, { hint: `See how it ended with flux ps -a, and remove it with flux rm ${this.name}.`, exitCode: 125 });
    }
  }

  /** SIGTERM, then SIGKILL of every process after `timeout` seconds (default 10); resolves with the exit code. */
  async stop(o: { timeout?: number } = {}): Promise<number | null> {
    const after = await stopContainer(this.root, this.state(), o.timeout ?? 10);
    return after?.exitCode ?? null;
  }

  /** Resolves with the exit code once the container has ended (null when it is unknown). */
  async wait(): Promise<number | null> {
    const after = await waitExited(this.root, this.id);
    return after?.exitCode ?? null;
  }

  /** Removes the container's state and log; with force, a running one is killed first. */
  async remove(o: { force?: boolean } = {}): Promise<void> {
    const s = readState(this.root, this.id);
    if (s) await removeContainer(this.root, s, o.force ?? false);
  }
}

/** The signal `kill -s` names: a name with or without SIG, any case, or its number (as docker and podman take it). */
export function killSignal(raw: NodeJS.Signals | string | number): NodeJS.Signals {
  return parseSignal(String(raw), 'kill -s');
}

/** The usage of many containers over one sample (as `flux ps` shows it); zero for those not running. */
export async function statsOfContainers(list: Container[]): Promise<ContainerStats[]> {
  const states = list.map((c) => readState(c.root, c.id)).filter((s): s is ContainerState => s !== undefined);
  const stats = await statsOfAll(states);
  return list.map((c) => stats[states.findIndex((s) => s.id === c.id)] ?? NO_STATS);
}

export function containerFor(root: string, ref: string): Container {
  const s = findState(root, ref);
  return new Container(s.id, s.name, root);
}

export function allContainers(root: string, all: boolean): Container[] {
  return listStates(root)
    .filter((s) => all || current(s).status !== 'exited')
    .map((s) => new Container(s.id, s.name, root));
}
