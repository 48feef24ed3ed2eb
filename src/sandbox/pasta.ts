import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FluxError } from '../errors.js';
import { runtimeDir } from '../runtime-dir.js';
import type { NetworkAttachment, NetworkRequest, PortForward } from './network-types.js';
import { hostsFile } from './hosts-file.js';
import { defaultGateway } from './host-address.js';
import { planForwards } from './slirp4netns.js';
import { randomHex } from './rootfs.js';
import { findExecutable } from '../executables.js';
import { boolOption, checkTun, lastLine, tunError, unknownOption } from './slirp-support.js';

/** Where pasta answers DNS queries in the container (it forwards them to the host's resolver). */
export const PASTA_DNS = '169.254.1.1';
const KNOWN_OPTIONS = ['allow_host_loopback', 'mtu'];
const START_TIMEOUT_MS = 10_000;

export async function createPasta(req: NetworkRequest, options: Map<string, string>): Promise<NetworkAttachment> {
  for (const key of options.keys()) if (!KNOWN_OPTIONS.includes(key)) throw unknownOption('pasta', key, KNOWN_OPTIONS);
  const binary = findExecutable('pasta');
  if (!binary) {
    throw new FluxError('NO_PASTA', 'pasta is not installed.', {
      hint: 'Install it (apt-get install passt) or use the default network (slirp4netns).',
      exitCode: 125,
    });
  }
  const mtu = options.get('mtu') ?? '65520';
  if (!/^\d+$/.test(mtu) || Number(mtu) < 68 || Number(mtu) > 65520) {
    throw new FluxError('BAD_NETWORK', `mtu=${mtu} is not between 68 and 65520.`, { hint: 'Leave it out for 65520.', exitCode: 125 });
  }
  const allowHostLoopback = boolOption(options, 'allow_host_loopback', 'pasta') ?? false;
  checkTun('pasta');
  const forwards = await planForwards(req);
  return new PastaAttachment(binary, mtu, allowHostLoopback, forwards, req.hostname, req.runtimeDir);
}

/**
 * pasta copies the host's addresses and routes into the namespace, so the container sees the
 * host's own IP; the host's gateway address leads to the host's loopback only with
 * allow_host_loopback. pasta daemonizes once the namespace is configured: its first process
 * exiting with 0 is the ready signal, and the pid file names the daemon to stop at detach.
 */
class PastaAttachment implements NetworkAttachment {
  readonly newNamespace = true;
  readonly resolvConf = `nameserver ${PASTA_DNS}\n`;
  readonly hosts: string;
  readonly hostGateway: string | undefined;
  private pidFile: string | undefined;
  private active: PortForward[] = [];
  private detached = false;
  private watchdog: ChildProcess | undefined;

  constructor(
    private readonly binary: string,
    private readonly mtu: string,
    private readonly allowHostLoopback: boolean,
    private readonly forwards: PortForward[],
    hostname: string,
    private readonly dir?: string,
  ) {
    this.hosts = hostsFile(hostname, '127.0.1.1');
    // The gateway leads to the host only when pasta maps it there (allow_host_loopback).
    this.hostGateway = allowHostLoopback ? defaultGateway() : undefined;
  }

  async attach(pid: number): Promise<void> {
    // A second attach (the run retried with another rootfs) re-wires the new namespace.
    await this.stop();
    this.detached = false;
    this.active = [];
    this.pidFile = join(runtimeDir(this.dir), `pasta-${pid}-${randomHex(4)}.pid`);
    const ports = (flag: string, proto: PortForward['protocol']): string[] => {
      const list = this.forwards.filter((f) => f.protocol === proto);
      if (list.length === 0) return [flag, 'none'];
      return list.flatMap((f) => [flag, `${f.hostIp === '0.0.0.0' ? '' : `${f.hostIp}/`}${f.hostPort}:${f.containerPort}`]);
    };
    const args = [
      '--config-net',
      '--quiet',
      '--pid', this.pidFile,
      '--mtu', this.mtu,
      '--dns-forward', PASTA_DNS,
      '--ipv4-only',
      ...(this.allowHostLoopback ? [] : ['--no-map-gw']),
      ...ports('-t', 'tcp'),
      ...ports('-u', 'udp'),
      '-T', 'none',
      '-U', 'none',
      String(pid),
    ];
    try {
      await runToReady(this.binary, args);
      this.watchdog = startWatchdog(this.pidFile);
      this.active = this.forwards.map((f) => ({ ...f }));
    } catch (err) {
      await this.detach();
      throw err;
    }
  }

  published(): PortForward[] {
    return this.active.map((f) => ({ ...f }));
  }

  async detach(): Promise<void> {
    if (this.detached) return;
    this.detached = true;
    await this.stop();
  }

  /**
   * The watchdog would stop pasta once this flux is gone: it goes instead, and pasta (which
   * also quits when the namespace it serves is gone) is stopped by its pid file at the end.
   */
  handOver(): { files: string[]; pidFiles: string[] } | undefined {
    if (this.watchdog?.exitCode === null) this.watchdog.kill('SIGKILL');
    this.watchdog = undefined;
    this.detached = true;
    const pidFiles = this.pidFile ? [this.pidFile] : [];
    this.pidFile = undefined;
    return { files: [], pidFiles };
  }

  private async stop(): Promise<void> {
    // The watchdog goes first, so it cannot kill a pid recycled after pasta ended.
    if (this.watchdog?.exitCode === null) this.watchdog.kill('SIGKILL');
    this.watchdog = undefined;
    if (!this.pidFile) return;
    const daemon = readPid(this.pidFile);
    if (daemon !== undefined && isPasta(daemon)) {
      signal(daemon, 'SIGTERM');
      // No pidfd in Node: poll briefly; pasta is gone within a few ms of the signal.
      for (let i = 0; i < 250 && isPasta(daemon); i++) await new Promise((r) => setTimeout(r, 2));
      if (isPasta(daemon)) signal(daemon, 'SIGKILL');
    }
    rmSync(this.pidFile, { force: true });
    this.pidFile = undefined;
  }
}

/**
 * pasta has no exit fd: once daemonized it outlives a flux that is killed outright. This shell
 * in its own process group waits on a pipe from flux, and when that pipe closes without flux
 * having stopped pasta (flux was killed), it stops pasta. It holds nothing that keeps flux alive.
 */
function startWatchdog(pidFile: string): ChildProcess | undefined {
  try {
    const dog = spawn('/bin/sh', ['-c', 'read _ || true; p=$(cat "$1" 2>/dev/null) && kill "$p" 2>/dev/null; rm -f "$1"; exit 0', 'flux-pasta-watchdog', pidFile], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    dog.on('error', () => {});
    dog.unref();
    (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return dog;
  } catch {
    return undefined;
  }
}

function runToReady(binary: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (d: Buffer): void => {
      if (output.length < 16384) output += d.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(startError('it did not configure the network in time', output));
    }, START_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(startError(err.message, output));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(startError(signal ? `it was killed by ${signal}` : `it exited with status ${code}`, output));
    });
  });
}

function startError(what: string, output: string): FluxError {
  if (/\/dev\/net\/tun/.test(output)) return tunError('pasta', Object.assign(new Error(lastLine(output)), { code: 'EACCES' }));
  const inUse = /(\d+).*(?:Address already in use)/i.exec(output);
  if (inUse) {
    return new FluxError('PORT_IN_USE', `a host port of -p is already in use (${lastLine(output)}).`, { hint: 'Pick another with -p.', exitCode: 125 });
  }
  const detail = lastLine(output);
  return new FluxError('PASTA_FAILED', `pasta failed to set up the container network: ${what}${detail ? ` (${detail})` : ''}.`, {
    hint: 'Use the default network (slirp4netns) or --network none.',
    exitCode: 125,
  });
}

/** Stops the pasta a pid file names, if it still runs, and removes the file (a detached container's end). */
export function stopPastaOf(pidFile: string): void {
  const daemon = readPid(pidFile);
  if (daemon !== undefined && isPasta(daemon)) signal(daemon, 'SIGTERM');
  rmSync(pidFile, { force: true });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** A live pasta at pid: guards the kill against a recycled pid; a zombie counts as gone. */
function isPasta(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const m = /^\d+ \((.*)\) (\S)/.exec(stat);
    return m !== null && /^(pasta|passt)/.test(m[1] ?? '') && m[2] !== 'Z';
  } catch {
    return false;
  }
}
