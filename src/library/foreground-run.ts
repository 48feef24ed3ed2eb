/**
 * A foreground run for a program: the library's options turned into the container's, output
 * captured or passed on, an AbortSignal instead of the host's signals. The library never touches
 * the host's signal handlers here: the run gets its own way to be signalled (onSpawn), so no
 * listener is left behind and Ctrl-C of the calling program stays the program's business.
 */
import type { Writable } from 'node:stream';
import { FluxError } from '../errors.js';
import { parsePullPolicy } from '../pull/pull-policy.js';
import { runCommand, type RunIO, type RunOptions as ContainerOptions, type RunTarget } from '../container/run-container.js';
import type { FluxOptions, OutputTarget, RunOptions, RunResult } from './api-types.js';


const bad = (code: string, message: string, hint: string) => new FluxError(code, message, { hint, exitCode: 125 });

const list = (v: string[] | undefined, what: string): string[] => {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad('BAD_OPTION', `the run option ${what} is not a list of strings.`, `Give ${what} as an array of strings.`);
  return v;
};

function envList(env: RunOptions['env']): string[] {
  if (env === undefined) return [];
  if (Array.isArray(env)) return list(env, 'env');
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** The container's options for the library's: the same fields `flux run`'s flags fill in. */
export function containerOptions(o: RunOptions, flux: FluxOptions = {}): ContainerOptions {
  const pull = parsePullPolicy(o.pull ?? 'missing', 'pull');
  const l = o.limits ?? {};
  return {
    env: envList(o.env),
    envFile: list(o.envFile, 'envFile'),
    ...(o.workdir !== undefined ? { workdir: o.workdir } : {}),
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.entrypoint !== undefined ? { entrypoint: o.entrypoint } : {}),
    ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
    volume: list(o.volumes, 'volumes'),
    tmpfs: list(o.tmpfs, 'tmpfs'),
    mount: list(o.mounts, 'mounts'),
    ...(o.name !== undefined ? { name: o.name } : {}),
    addHost: list(o.addHost, 'addHost'),
    dns: list(o.dns, 'dns'),
    dnsSearch: list(o.dnsSearch, 'dnsSearch'),
    dnsOption: list(o.dnsOption, 'dnsOption'),
    ...(o.tz !== undefined ? { tz: o.tz } : {}),
    unsetenv: list(o.unsetenv, 'unsetenv'),
    groupAdd: list(o.groupAdd, 'groupAdd'),
    ulimit: list(o.ulimit, 'ulimit'),
    ...(o.stopSignal !== undefined ? { stopSignal: o.stopSignal } : {}),
    label: list(o.labels, 'labels'),
    ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
    ...(o.userns !== undefined ? { userns: o.userns } : {}),
    ...(o.preserveFds !== undefined ? { preserveFds: o.preserveFds } : {}),
    readOnly: o.readOnly ?? false,
    interactive: o.stdin === 'inherit',
    tty: o.tty ?? false,
    ...(o.network !== undefined ? { network: o.network } : {}),
    networkAlias: list(o.networkAliases, 'networkAliases'),
    publish: list(o.ports, 'ports'),
    publishAll: o.publishAll ?? false,
    capAdd: list(o.capAdd, 'capAdd'),
    capDrop: list(o.capDrop, 'capDrop'),
    privileged: o.privileged ?? false,
    securityOpt: list(o.securityOpt, 'securityOpt'),
    pull,
    ...(o.platform !== undefined ? { platform: o.platform } : {}),
    insecure: o.insecure ?? false,
    verbose: false,
    quiet: true,
    limits: {
      ...(l.memory !== undefined ? { memory: String(l.memory) } : {}),
      ...(l.cpus !== undefined ? { cpus: String(l.cpus) } : {}),
      ...(l.pids !== undefined ? { pidsLimit: String(l.pids) } : {}),
    },
    ...(flux.store !== undefined ? { store: flux.store } : {}),
    ...(flux.runtimeDir !== undefined ? { runtimeDir: flux.runtimeDir } : {}),
  };
}

export function runTarget(o: RunOptions): RunTarget {
  if ((o.image === undefined) === (o.rootfs === undefined)) throw bad('BAD_OPTION', 'a run needs exactly one of image and rootfs.', 'Give run() an image reference or a root filesystem directory.');
  return o.image ?? { rootfs: o.rootfs! };
}

/** One output stream's destination, and what it captured. */
function output(target: OutputTarget | undefined, host: NodeJS.WriteStream): { write(c: Buffer): void; captured(): Buffer | undefined } {
  if (target === undefined || target === 'inherit') return { write: (c) => void host.write(c), captured: () => undefined };
  if (target === 'ignore') return { write: () => undefined, captured: () => undefined };
  if (target === 'pipe') {
    const chunks: Buffer[] = [];
    return { write: (c) => void chunks.push(c), captured: () => Buffer.concat(chunks) };
  }
  const stream: Writable = target;
  return { write: (c) => void stream.write(c), captured: () => undefined };
}

function signalName(reason: unknown): NodeJS.Signals {
  return typeof reason === 'string' && /^SIG[A-Z0-9]+$/.test(reason) ? (reason as NodeJS.Signals) : 'SIGINT';
}

/** `flux.run()`: resolves with the command's status, whatever it is; rejects only on flux's own failures. */
export async function foregroundRun(o: RunOptions, flux: FluxOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const target = runTarget(o);
  const opts = containerOptions(o, flux);
  if (o.signal?.aborted) throw new FluxError('ABORTED', 'the run was aborted before it started.', { hint: 'Pass a signal that has not fired yet.' });
  const out = output(o.stdout, process.stdout);
  const err = output(o.stderr, process.stderr);
  let kill: ((sig: NodeJS.Signals) => void) | undefined;
  let sent: NodeJS.Signals | undefined;
  const onAbort = (): void => {
    sent = signalName(o.signal?.reason);
    kill?.(sent);
  };
  const io: RunIO = {
    stdout: (c) => out.write(c),
    stderr: (c) => err.write(c),
    onSpawn(k) {
      kill = k;
      // An abort that came before the sandbox existed reaches it now (the helper holds it until the command runs).
      if (sent) k(sent);
    },
    say: (text) => o.onMessage?.(text.replace(/^flux: /, '').replace(/\n$/, '')),
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exitCode = await runCommand(target, o.command ?? [], opts, io);
    const stdout = out.captured();
    const stderr = err.captured();
    return {
      exitCode,
      ...(sent ? { signal: sent } : {}),
      ...(stdout ? { stdout } : {}),
      ...(stderr ? { stderr } : {}),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}
