/**
 * The run supervisor: starts the native helper, hands it the plan in two parts, wires the network
 * while the helper waits, forwards signals, handles the host terminal for -t, and turns the
 * helper's records into one-sentence errors. The helper removes the run's state itself (inside
 * the user namespace, where the image's sub-uid files can be deleted).
 *
 * A run starts the helper before it has read the image (startSandbox): creating the namespaces
 * and mapping the ids then overlaps with reading the image and preparing the root, and the
 * container part of the plan follows (Sandbox.run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { FluxError } from '../errors.js';
import { lap, timingEnv } from '../timing.js';
import { helperPath, errnoText, printable, type HelperRecord } from '../native/helper.js';
import type { LaunchedHelper, NetworkAttachment } from './network-types.js';
import { mapFailure, type IdMaps } from '../userns/idmap.js';
import { containerPlan, encodePlan, namespacePlan, type ContainerSpec, type NamespaceSpec, type SandboxSpec } from './plan.js';
import { onRecords, setupError, writeIdMaps } from '../userns/userns.js';
import { lastLine } from './slirp-support.js';

/** Fixed when the helper starts: its stdio and who owns its signalling. */
export interface LaunchOptions {
  maps?: IdMaps;
  /** Pass the host's stdin to the command (-i). */
  interactive: boolean;
  /** Where the command's stdout and stderr go instead of the host's (fds 1 and 2 become pipes). */
  output?: { stdout(chunk: Buffer): void; stderr(chunk: Buffer): void };
  /**
   * Receives a way to signal this run. The caller then owns its signalling: the host's signals
   * are not forwarded to it (a matrix passes each one on itself, once).
   */
  onSpawn?: (kill: (sig: NodeJS.Signals) => void) => void;
  /** --preserve-fds N: flux's own fds 3…3+N-1, passed on to the command as the same numbers. */
  preserveFds?: number;
  /**
   * A detached container: the helper becomes its monitor (native/monitor.c), run() returns once
   * the command runs, and letGo() leaves the helper to it.
   */
  monitor?: MonitorLaunch;
}

/** The monitor's arguments (see native/monitor.c). */
export interface MonitorLaunch {
  /** The container's state directory (its log and exit file go there). */
  dir: string;
  /** The file of lifecycle events the `exited` event is appended to. */
  events: string;
  id: string;
  name: string;
  logMaxBytes: number;
  /** --timeout in seconds (0: none), and the signal it stops the command with (0: the image's StopSignal, see monitor.c). */
  timeoutSec: number;
  stopSignal: number;
  /** What the monitor execs at the end when flux has work left then (see container/ended.ts). */
  end: string[];
  /** The monitor's own messages and the network helper's go to this file (flux does not stay to read them). */
  errFd: number;
}

/** Known once the container is ready. */
export interface SupervisorOptions {
  network: NetworkAttachment;
  /** Called when the namespaces exist, before the command starts (e.g. to join a cgroup). */
  onPid?: (pid: number) => Promise<void>;
  onRootfsKind?: (kind: string) => void;
  onWarning?: (text: string) => void;
}

export interface SupervisorResult {
  code: number;
  /** Set when the sandbox could not be built (the command never ran). */
  setupError?: FluxError;
  rootfsKind?: string;
  /** A detached container's command runs: its monitor holds it from here (LaunchOptions.monitor). */
  running?: boolean;
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

/**
 * One listener per signal for every run in progress, installed while any run wants the host's
 * signals: many runs in one process add no listeners, and with none left the defaults return.
 */
const forwarding = new Set<(sig: NodeJS.Signals) => void>();
/** Signals that ask the run to stop: the first is the command's to handle, a second kills it. */
const STOPPING = new Set<NodeJS.Signals>(['SIGINT', 'SIGTERM', 'SIGHUP']);
let stops = 0;
const dispatch = (sig: NodeJS.Signals): void => {
  // A second Ctrl-C: the user will not wait for a command that does not stop (`sh -c` that passes
  // nothing on); the container is killed at once, and cleaned up as usual.
  const again = STOPPING.has(sig) && stops++ > 0;
  for (const kill of forwarding) kill(again ? 'SIGKILL' : sig);
};

function forwardSignals(kill: (sig: NodeJS.Signals) => void): () => void {
  if (forwarding.size === 0) for (const sig of FORWARDED) process.on(sig, dispatch);
  forwarding.add(kill);
  return () => {
    if (!forwarding.delete(kill) || forwarding.size > 0) return;
    for (const sig of FORWARDED) process.off(sig, dispatch);
  };
}

/**
 * Watches a network helper the sandbox helper started (see LaunchedHelper): its stderr comes on
 * a pipe, its readiness through the helper's records (settle). The pipe is read only when its
 * text is wanted: reading it to its end costs ≈ 1.5 ms of stream teardown right when the run
 * ends. Unread, it cannot hold slirp4netns up (the helper makes its end non-blocking).
 */
function watchLaunched(pipe: Readable | undefined): LaunchedHelper & { settle(ready: boolean): void } {
  let text = '';
  let closed: Promise<void> | undefined;
  pipe?.on('error', () => {});
  const read = (): Promise<void> => {
    if (closed) return closed;
    // A monitor's network helper writes to the monitor's file instead (nobody stays to read a pipe).
    if (!pipe) return Promise.resolve();
    closed = new Promise<void>((resolve) => pipe.once('close', () => resolve()));
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      if (text.length < 16384) text += chunk;
    });
    return closed;
  };
  let settle: (ready: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  return {
    ready,
    settle: (ok) => settle(ok),
    stderr: async (ms) => {
      await Promise.race([read(), new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
      return text;
    },
  };
}

/** A helper started with the namespace part of a plan, waiting for the container part. */
export class Sandbox {
  private readonly child: ChildProcess;
  private readonly ctl: Socket;
  /**
   * The command's end: the helper's word that the container is empty (when Node's part of the
   * ending may overlap the helper's clean-up), else as `gone`.
   */
  private readonly over: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private finished: ((end: { code: number | null; signal: NodeJS.Signals | null }) => void) | undefined;
  /** The helper's end: its exit (and its pipes' end), or, sooner, its word that all is cleaned up. */
  private readonly gone: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private departed: ((end: { code: number | null; signal: NodeJS.Signals | null }) => void) | undefined;
  private failure: FluxError | undefined;
  private kind: string | undefined;
  private supervision: SupervisorOptions | undefined;
  private ready = false;
  private containerSent = false;
  private wiring: Promise<boolean> | undefined;
  private goSent = false;
  private settled = false;
  /** The network helper the helper starts (netHelper in the plan), watched from the start. */
  private netHelper: ReturnType<typeof watchLaunched> | undefined;
  /**
   * The helper waits for Node before the command starts (maps Node writes, a network Node wires,
   * a cgroup to join): it says R, and Node answers G. Otherwise Node only answers A if its part fails.
   */
  private readonly handshake: boolean;
  private netReady = false;
  /** The network helper went away while the command ran. */
  private netLost = false;
  /** The 'started' record (a detached container's run() returns then). */
  private started: (() => void) | undefined;
  private readonly running: Promise<void>;

  constructor(private readonly ns: NamespaceSpec, private readonly launch: LaunchOptions) {
    const out = launch.output;
    // Setsid (detached): terminal signals reach flux only, which forwards them exactly once.
    // The namespace part of the plan is the helper's command line: it starts on it at once.
    // fd 4: stderr of the network helper the helper starts (netHelper).
    const monitor = launch.monitor;
    const netPipes: ('pipe' | number)[] = ns.newNet && ns.netHelper ? [monitor ? monitor.errFd : 'pipe'] : [];
    this.handshake = ns.waitGo === true || (ns.userns && ns.idmap === undefined);
    lap('spawn');
    // The fds to preserve follow the helper's own (they reach it at 4 + the network pipes).
    const preserved = Array.from({ length: launch.preserveFds ?? 0 }, (_, i) => 3 + i);
    const planned = preserved.length > 0 ? { ...ns, preserveFds: { first: 4 + netPipes.length, count: preserved.length } } : ns;
    const mode = monitor
      ? ['monitor', '3', monitor.dir, monitor.events, monitor.id, monitor.name, String(monitor.logMaxBytes), String(monitor.timeoutSec), String(monitor.stopSignal), String(monitor.end.length), ...monitor.end]
      : ['run', '3'];
    const stdout = monitor ? monitor.errFd : out ? 'pipe' : 'inherit';
    this.child = spawn(helperPath(), [...mode, ...namespacePlan(planned).flat()], {
      stdio: [launch.interactive ? 'inherit' : 'ignore', stdout, stdout, 'pipe', ...netPipes, ...preserved],
      detached: true,
      // The helper's environment is pid 1's: container=flux is what systemd reads in /proc/1/environ.
      env: { ...timingEnv(), container: 'flux' },
    });
    this.ctl = this.child.stdio[3] as Socket;
    const netStderr = (this.child.stdio as unknown as (Readable | null)[])[4];
    if (netPipes.length > 0) this.netHelper = watchLaunched(netStderr ?? undefined);
    lap('spawned');
    if (out) {
      this.child.stdout?.on('data', (c: Buffer) => out.stdout(c));
      this.child.stderr?.on('data', (c: Buffer) => out.stderr(c));
    }
    onRecords(this.ctl, (rec) => this.record(rec));
    this.child.on('error', (err) => {
      this.failure ??= new FluxError('HELPER', `cannot start the sandbox helper: ${err.message}.`, { hint: 'Rebuild it with `npm run build`.' });
    });
    this.gone = new Promise((resolve) => {
      this.departed = resolve;
      this.child.on('close', (code, signal) => resolve({ code, signal }));
    });
    this.over = new Promise((resolve) => {
      this.finished = resolve;
      void this.gone.then(resolve);
    });
    this.running = new Promise((resolve) => {
      this.started = resolve;
    });
    // Gone, or done, without a word of the network helper's readiness: it never was.
    void this.over.then(() => this.netHelper?.settle(false));
  }

  /**
   * Signals the command (through the helper and init); SIGKILL kills the whole container at
   * once, which the helper does for SIGALRM (SIGKILL would end the helper, not the container,
   * and leave its clean-up undone).
   */
  private readonly kill = (sig: NodeJS.Signals): void => {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig === 'SIGKILL' ? 'SIGALRM' : sig);
  };

  private record(rec: HelperRecord): void {
    switch (rec.kind) {
      case 'ready':
        lap('helper ready');
        this.ready = true;
        this.startWiring();
        break;
      case 'netready':
        lap('network ready');
        this.netReady = true;
        this.netHelper?.settle(true);
        break;
      case 'netfailed':
        // After the command started (the network was configured), it only loses the network.
        if (this.netReady) this.netLost = true;
        this.netHelper?.settle(false);
        break;
      case 'rootfs':
        this.kind = rec.value;
        this.supervision?.onRootfsKind?.(rec.value);
        break;
      case 'error':
        this.failure ??= setupError(rec);
        break;
      case 'exec':
        this.failure ??=
          rec.errno === 2
            ? new FluxError('EXEC_NOT_FOUND', `${printable(rec.cmd)}: executable file not found in $PATH.`, {
                hint: 'Check the command name, or the image\'s PATH.',
                exitCode: 127,
              })
            : new FluxError('EXEC_DENIED', `${printable(rec.cmd)}: ${errnoText(rec.errno).toLowerCase()}.`, {
                hint: 'The file is not an executable the container can run.',
                exitCode: 126,
              });
        break;
      case 'warning':
        this.supervision?.onWarning?.(printable(rec.text));
        break;
      case 'started':
        this.started?.();
        break;
      case 'ended':
        lap('helper ended');
        // Output through pipes (a matrix) and a cgroup (limits) are only done with the helper.
        if (!this.launch.output && !this.supervision?.onPid) this.finished?.({ code: rec.status, signal: null });
        break;
      case 'done': {
        lap('helper done');
        // Only its exit is left, which must not keep flux waiting nor alive. Output through pipes
        // (a matrix) is read to its end first: the helper let go of them before it said so.
        const status = rec.status;
        const piped = [this.child.stdout, this.child.stderr].filter((p) => p !== null && !p.readableEnded);
        let open = piped.length;
        const finish = (): void => {
          this.child.unref();
          this.ctl.unref();
          this.departed?.({ code: status, signal: null });
        };
        if (open === 0) finish();
        for (const p of piped) p?.once('end', () => --open === 0 && finish());
        break;
      }
      case 'mapfail':
        this.failure ??= this.launch.maps ? mapFailure(rec.tool, rec.text, this.launch.maps.user) : new FluxError('IDMAP', `${rec.tool} failed: ${printable(rec.text)}.`);
        break;
    }
  }

  /**
   * Node's part once the namespaces exist: maps written by Node if the helper does not write
   * them, the network wired, a cgroup joined. It starts as soon as both the namespaces and the
   * network are there, while the helper may still be waiting for the container part.
   */
  private startWiring(): void {
    const s = this.supervision;
    if ((this.handshake && !this.ready) || !s || this.wiring) return;
    const pid = this.child.pid ?? 0;
    const steps: Promise<unknown>[] = [];
    if (this.ns.userns && this.launch.maps && !this.ns.idmap) steps.push(writeIdMaps(pid, this.launch.maps));
    if (this.ns.newNet) {
      steps.push(s.network.attach(pid, this.netHelper));
    }
    if (s.onPid) steps.push(s.onPid(pid));
    this.wiring = Promise.all(steps).then(
      () => true,
      (err: unknown) => {
        this.failure ??= err instanceof FluxError ? err : new FluxError('SANDBOX_SETUP', `${(err as Error).message}.`, { cause: err });
        return false;
      },
    );
    this.maybeGo();
  }

  /** The go (or the abort) follows the container part, once the wiring is done. */
  private maybeGo(): void {
    if (!this.wiring || !this.containerSent || this.goSent) return;
    this.goSent = true;
    void this.wiring.then((ok) => {
      lap('wired');
      if (this.handshake || !ok) this.ctl.write(ok ? 'G\n' : 'A\n');
    });
  }

  /**
   * Hands over the network (and a cgroup to join) as soon as they exist, so the network is
   * wired while the rest of the container is prepared. Optional: run() does it otherwise.
   */
  connect(opts: SupervisorOptions): void {
    if (this.supervision) return;
    this.supervision = opts;
    this.startWiring();
  }

  /** The helper's pid (a detached container's monitor). */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Sends a signal to the container's init, which passes it on to the command (as a forwarded host signal). */
  signal(sig: NodeJS.Signals): void {
    this.kill(sig);
  }

  /** Sends the container part and supervises the run to its end. */
  async run(spec: ContainerSpec, opts: SupervisorOptions): Promise<SupervisorResult> {
    if (this.settled) throw new Error('sandbox already used');
    this.settled = true;
    const rawTty = this.launch.output === undefined && spec.tty !== undefined && process.stdin.isTTY === true;
    if (rawTty) process.stdin.setRawMode(true);
    // The helper is waiting for it: the rest of Node's part follows while it builds the container.
    const alive = this.child.exitCode === null && this.child.signalCode === null;
    // Before the plan goes: once it is sent the command may start, print, and be signalled
    // through flux before this process runs again (a loaded machine); a SIGTERM that found no
    // handler would end flux itself instead of reaching the command.
    const unforward = this.launch.onSpawn ? () => undefined : forwardSignals(this.kill);
    if (alive) {
      this.ctl.write(encodePlan(containerPlan(this.ns, spec)));
      this.containerSent = true;
    }
    this.connect(opts);
    this.launch.onSpawn?.(this.kill);
    if (alive) this.maybeGo();
    if (this.launch.monitor) {
      // A detached container: once its command runs flux is done with it (letGo).
      const ran = await Promise.race([this.running.then(() => true), this.over.then(() => false)]);
      if (ran) {
        unforward();
        return { code: 0, running: true, ...(this.kind ? { rootfsKind: this.kind } : {}) };
      }
    }
    const { code, signal } = await this.over;
    // Unawaited by the helper, Node's part may still be settling (why the network failed).
    if (!this.handshake) await this.wiring;
    if (this.netLost && this.netHelper) {
      const detail = lastLine(await this.netHelper.stderr(200));
      opts.onWarning?.(`slirp4netns stopped while the command ran, so the container lost its network${detail ? ` (${detail})` : ''}.`);
    }
    if (rawTty) process.stdin.setRawMode(false);
    // Signals still reach the helper while it cleans up (a Ctrl-C then must not end flux, and
    // the helper with it, halfway). After that, on the next turn of the event loop: flux that has
    // nothing left to do exits before then, sparing the removal of seven signal handlers (about
    // half a millisecond). A signal in between reaches a helper that has finished.
    void this.gone.then(() => setImmediate(unforward));
    const status = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 125);
    const failure = this.failure;
    return { code: status, ...(failure ? { setupError: failure } : {}), ...(this.kind ? { rootfsKind: this.kind } : {}) };
  }

  /**
   * No container will follow: the helper leaves (quietly) once its socket closes. Resolves when
   * nothing runs in the container any more (the helper may still be cleaning up: see cleanedUp)
   * and any wiring has settled, so the network can be taken down after. Idempotent; after run()
   * it only waits.
   */
  async cancel(): Promise<void> {
    if (!this.settled) {
      this.settled = true;
      this.ctl.end();
    }
    await this.over;
    await this.wiring;
  }

  /**
   * A detached container's helper is left to itself (its monitor): with `keep` (its command runs
   * and flux has recorded it so) it will record the end; without, the container is flux's to
   * remove, and the monitor only ends. Nothing of it keeps flux alive after this.
   */
  letGo(keep: boolean): void {
    if (keep) this.ctl.write('K');
    this.ctl.end();
    this.ctl.unref();
    this.child.unref();
  }

  /** Resolves once the helper has cleaned up after the run (or is gone). */
  async cleanedUp(): Promise<void> {
    await this.gone;
  }
}

/** Starts the helper on the namespace part of a plan (see Sandbox). */
export function startSandbox(ns: NamespaceSpec, launch: LaunchOptions): Sandbox {
  return new Sandbox(ns, launch);
}

/** A whole run in one call: start the helper, then hand it the container. */
export async function runSandbox(spec: SandboxSpec, opts: SupervisorOptions & LaunchOptions): Promise<SupervisorResult> {
  const sandbox = startSandbox(spec, opts);
  const result = await sandbox.run(spec, opts);
  await sandbox.cleanedUp();
  return result;
}
