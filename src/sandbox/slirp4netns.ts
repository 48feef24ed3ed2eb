import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { lstatSync, readlinkSync, rmSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { FluxError } from '../errors.js';
import { runtimeDir } from '../runtime-dir.js';
import { SLIRP_DEVICE, type LaunchedHelper, type NetworkAttachment, type NetworkLaunch, type NetworkRequest, type PortForward } from './network-types.js';
import { hostsFile } from './hosts-file.js';
import { primaryHostAddress } from './host-address.js';
import { parseExposedPorts } from './publish-spec.js';
import { randomHex } from './rootfs.js';
import { findExecutable } from '../executables.js';
import { boolOption, checkTun, lastLine, tunError, unknownOption } from './slirp-support.js';

/** The addresses slirp4netns gives with its default CIDR 10.0.2.0/24. */
export const SLIRP = { guest: '10.0.2.100', gateway: '10.0.2.2', dns: '10.0.2.3', device: SLIRP_DEVICE } as const;

const KNOWN_OPTIONS = ['allow_host_loopback', 'enable_ipv6', 'mtu', 'port_handler', 'enable_sandbox', 'enable_seccomp'];
const READY_TIMEOUT_MS = 10_000;
const API_TIMEOUT_MS = 5_000;

interface SlirpConfig {
  binary: string;
  allowHostLoopback: boolean;
  ipv6: boolean;
  mtu: number;
  sandbox: boolean;
  seccomp: boolean;
}

export async function createSlirp4netns(req: NetworkRequest, options: Map<string, string>): Promise<NetworkAttachment> {
  const launch = req.launch as SlirpLaunch | undefined;
  const config = launch?.config ?? slirpConfig(options);
  if (!launch) checkTun('slirp4netns');
  const forwards = await planForwards(req);
  if (!launch) allowLoopbackForUdp(config, options, forwards);
  // Started before the image was read, its loopback setting cannot follow the image's UDP ports (-d -P).
  else if (forwards.some((f) => f.protocol === 'udp') && !config.allowHostLoopback) {
    throw new FluxError('UDP_NEEDS_LOOPBACK', 'the image exposes UDP ports, and -d -P cannot forward them through slirp4netns without host loopback (the replies to the host are dropped).', {
      hint: 'Add --network slirp4netns:allow_host_loopback=true, or publish them with -p.',
      exitCode: 125,
    });
  }
  return new SlirpAttachment(config, forwards, req.hostname, launch, req.runtimeDir);
}

/** slirp4netns as the sandbox helper starts it: planned from the flags alone, before the image is read. */
export interface SlirpLaunch extends NetworkLaunch {
  /** Its API socket, for the port forwards; none without -p. */
  readonly socketPath: string | undefined;
  readonly config: SlirpConfig;
}

export function planSlirpLaunch(options: Map<string, string>, publish: PortForward[], dir?: string, publishAll = false): SlirpLaunch {
  const config = slirpConfig(options);
  checkTun('slirp4netns');
  allowLoopbackForUdp(config, options, publish);
  // Only port forwards use the API socket: without them there is no socket to make or remove.
  const socketPath = publish.length > 0 || publishAll ? apiSocketPath(dir) : undefined;
  return {
    argv: [config.binary, ...slirpArgs(config, socketPath, 'PID')],
    socketPath,
    config,
    release: () => {
      if (socketPath) rmSync(socketPath, { force: true });
    },
  };
}

function allowLoopbackForUdp(config: SlirpConfig, options: Map<string, string>, forwards: PortForward[]): void {
  if (!forwards.some((f) => f.protocol === 'udp') || config.allowHostLoopback) return;
  // With --disable-host-loopback libslirp drops every guest packet addressed to 10.0.2.2, and
  // that is where the replies to a forwarded UDP datagram go (podman#4586).
  if (options.get('allow_host_loopback') !== undefined) {
    throw new FluxError('UDP_NEEDS_LOOPBACK', 'UDP port forwards through slirp4netns need allow_host_loopback=true: without it the replies to the host are dropped.', {
      hint: 'Drop allow_host_loopback=false, or use --network pasta.',
      exitCode: 125,
    });
  }
  config.allowHostLoopback = true;
  process.stderr.write('flux: note: UDP port forwards need host loopback access, so the container can reach services on the host\'s 127.0.0.1 through 10.0.2.2 (use --network pasta to avoid that).\n');
}

function apiSocketPath(dir: string | undefined): string {
  return join(runtimeDir(dir), `slirp4netns-${process.pid}-${randomHex(4)}.sock`);
}

/** fd 3: it exits when the other end closes; fd 4: it writes "1" there once tap0 is configured. */
function slirpArgs(config: SlirpConfig, socketPath: string | undefined, pid: string): string[] {
  return [
    '--configure',
    `--mtu=${config.mtu}`,
    ...(config.allowHostLoopback ? [] : ['--disable-host-loopback']),
    ...(config.ipv6 ? ['--enable-ipv6'] : []),
    ...(config.sandbox ? ['--enable-sandbox'] : []),
    ...(config.seccomp ? ['--enable-seccomp'] : []),
    ...(socketPath ? [`--api-socket=${socketPath}`] : []),
    '--exit-fd=3',
    '--ready-fd=4',
    pid,
    SLIRP.device,
  ];
}

function slirpConfig(options: Map<string, string>): SlirpConfig {
  for (const key of options.keys()) if (!KNOWN_OPTIONS.includes(key)) throw unknownOption('slirp4netns', key, KNOWN_OPTIONS);
  const handler = options.get('port_handler');
  if (handler !== undefined && handler !== 'slirp4netns') {
    throw new FluxError('BAD_NETWORK', `port_handler=${handler} is not supported.`, {
      hint: 'Use port_handler=slirp4netns (the only handler flux has) or leave it out.',
      exitCode: 125,
    });
  }
  let mtu = 65520;
  const mtuText = options.get('mtu');
  if (mtuText !== undefined) {
    mtu = Number(mtuText);
    if (!/^\d+$/.test(mtuText) || mtu < 68 || mtu > 65521) {
      throw new FluxError('BAD_NETWORK', `mtu=${mtuText} is not between 68 and 65521.`, { hint: 'Leave it out for 65520.', exitCode: 125 });
    }
  }
  const binary = findExecutable('slirp4netns');
  if (!binary) {
    throw new FluxError('NO_SLIRP4NETNS', 'slirp4netns is not installed.', {
      hint: 'Install it (apt-get install slirp4netns) or run with --network none.',
      exitCode: 125,
    });
  }
  return {
    binary,
    allowHostLoopback: boolOption(options, 'allow_host_loopback', 'slirp4netns') ?? false,
    ipv6: boolOption(options, 'enable_ipv6', 'slirp4netns') ?? false,
    mtu,
    sandbox: boolOption(options, 'enable_sandbox', 'slirp4netns') ?? resolvConfInSandbox(),
    seccomp: boolOption(options, 'enable_seccomp', 'slirp4netns') ?? true,
  };
}

/**
 * --enable-sandbox leaves slirp4netns only /etc and /run; when /etc/resolv.conf reaches its
 * target through a path elsewhere (NixOS links through /nix/store), the DNS forwarder at
 * 10.0.2.3 would stop working, so the sandbox is left off there (nixpkgs#231191).
 */
function resolvConfInSandbox(): boolean {
  let path = '/etc/resolv.conf';
  for (let hop = 0; hop < 16; hop++) {
    if (!/^\/(etc|run)\//.test(path)) return false;
    let target: string;
    try {
      // Not a link (or absent): nothing outside /etc and /run is needed.
      if (!lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) return true;
      target = readlinkSync(path);
    } catch {
      return true;
    }
    path = resolvePath(dirname(path), target);
  }
  return false;
}

/**
 * Explicit -p forwards are checked now, before any namespace exists, so a taken port costs no
 * container; -P picks a free host port for each exposed port that -p did not already cover.
 */
export async function planForwards(req: NetworkRequest): Promise<PortForward[]> {
  const forwards: PortForward[] = [];
  if (req.publish.length === 0 && !req.publishAll) return forwards;
  // Socket probing (node:dgram among it) only for a run that publishes ports.
  const { checkPublish, freeHostPort } = await import('./ports.js');
  await checkPublish(req.publish);
  forwards.push(...req.publish.map((f) => ({ ...f })));
  if (req.publishAll) {
    const covered = new Set(req.publish.map((f) => `${f.containerPort}/${f.protocol}`));
    for (const exposed of parseExposedPorts(req.exposedPorts)) {
      if (covered.has(`${exposed.containerPort}/${exposed.protocol}`)) continue;
      covered.add(`${exposed.containerPort}/${exposed.protocol}`);
      const hostIp = '0.0.0.0';
      const hostPort = await freeHostPort(hostIp, exposed.protocol);
      forwards.push({ hostIp, hostPort, containerPort: exposed.containerPort, protocol: exposed.protocol });
    }
  }
  return forwards;
}

class SlirpAttachment implements NetworkAttachment {
  readonly newNamespace = true;
  readonly resolvConf = `nameserver ${SLIRP.dns}\n`;
  readonly tapDevice = SLIRP.device;
  readonly hosts: string;
  readonly hostGateway: string | undefined;
  private child: ChildProcess | undefined;
  private socketPath: string | undefined;
  private active: PortForward[] = [];
  private detached = false;

  constructor(
    private readonly config: SlirpConfig,
    private readonly forwards: PortForward[],
    hostname: string,
    private readonly launch?: SlirpLaunch,
    private readonly dir?: string,
  ) {
    // Without host loopback, the host's own address still reaches it (slirp4netns NATs it back).
    this.hostGateway = config.allowHostLoopback ? SLIRP.gateway : primaryHostAddress();
    const extra = config.allowHostLoopback ? [`${SLIRP.gateway}\thost.containers.internal host.flux.internal`] : [];
    this.hosts = hostsFile(hostname, SLIRP.guest, extra);
  }

  async attach(pid: number, launched?: LaunchedHelper): Promise<void> {
    // A second attach (the run retried with another rootfs) re-wires the new namespace.
    await this.stop();
    this.detached = false;
    this.active = [];
    try {
      if (launched && this.launch) {
        // The sandbox helper started it on our plan; it stops it when the run ends.
        this.socketPath = this.launch.socketPath;
        await waitLaunchedReady(launched);
      } else {
        this.socketPath = apiSocketPath(this.dir);
        // As our own child, fd 3 is a pipe to us: it cannot outlive flux even after SIGKILL.
        const child = spawn(this.config.binary, slirpArgs(this.config, this.socketPath, String(pid)), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
        this.child = child;
        await waitReady(child);
        // From here slirp4netns must not keep flux alive: if flux ends without detach(), its exit
        // closes fd 3 and slirp4netns follows.
        child.unref();
        for (const stream of [child.stderr, child.stdio[3], child.stdio[4]]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
      }
      for (const fwd of this.forwards) {
        await this.addForward(fwd);
        this.active.push(fwd);
      }
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

  /** Launched by the sandbox helper, it lives as long as the helper holds its exit fd. */
  handOver(): { files: string[]; pidFiles: string[] } | undefined {
    if (this.child || !this.launch) return undefined;
    this.detached = true;
    const files = this.socketPath ? [this.socketPath] : [];
    this.socketPath = undefined;
    return { files, pidFiles: [] };
  }

  private async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) {
      (child.stdio[3] as Writable | null)?.destroy();
      (child.stdio[4] as Readable | null)?.destroy();
      await stopChild(child);
      child.stderr?.destroy();
    }
    if (this.socketPath) rmSync(this.socketPath, { force: true });
    this.socketPath = undefined;
  }

  private async addForward(fwd: PortForward): Promise<void> {
    const reply = await apiRequest(this.socketPath as string, {
      execute: 'add_hostfwd',
      arguments: { proto: fwd.protocol, host_addr: fwd.hostIp, host_port: fwd.hostPort, guest_port: fwd.containerPort },
    });
    if (reply.error !== undefined) {
      // The port was free when planned; if something took it since, this names it.
      const { checkHostPort, hostPortError } = await import('./ports.js');
      await checkHostPort(fwd);
      const desc = typeof reply.error === 'object' && reply.error && 'desc' in reply.error ? String(reply.error.desc) : JSON.stringify(reply.error);
      throw hostPortError(fwd, Object.assign(new Error(desc), { code: 'EADDRINUSE' }));
    }
  }
}

function waitReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < 16384) stderr += chunk;
    });
    const ready = child.stdio[4] as Readable;
    const timer = setTimeout(() => finish(startError(`it did not configure the network within ${READY_TIMEOUT_MS / 1000} s`, stderr)), READY_TIMEOUT_MS);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      ready.removeAllListeners('data');
      child.removeListener('exit', onExit);
      child.removeListener('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onExit = (code: number | null, signal: string | null): void => {
      // Give stderr a moment to drain so the sentence can quote it.
      setTimeout(() => finish(startError(signal ? `it was killed by ${signal}` : `it exited with status ${code}`, stderr)), 20);
    };
    const onError = (err: Error): void => finish(startError(err.message, stderr));
    ready.on('data', (chunk: Buffer) => {
      if (chunk.includes('1')) finish();
    });
    ready.on('error', () => {});
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** Readiness of a slirp4netns the sandbox helper started; if it died, its stderr says why. */
async function waitLaunchedReady(l: LaunchedHelper): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS);
  });
  const outcome = await Promise.race([l.ready, timedOut]);
  clearTimeout(timer);
  if (outcome === true) return;
  if (outcome === 'timeout') throw startError(`it did not configure the network within ${READY_TIMEOUT_MS / 1000} s`, await l.stderr(200));
  throw startError('it exited before the network was configured', await l.stderr(200));
}

function startError(what: string, stderr: string): FluxError {
  if (/\/dev\/net\/tun/.test(stderr)) {
    const code = /Permission denied/.test(stderr) ? 'EACCES' : /No such file|No such device/.test(stderr) ? 'ENOENT' : 'EACCES';
    return tunError('slirp4netns', Object.assign(new Error(lastLine(stderr)), { code }));
  }
  const detail = lastLine(stderr);
  return new FluxError('SLIRP4NETNS_FAILED', `slirp4netns failed to set up the container network: ${what}${detail ? ` (${detail})` : ''}.`, {
    hint: 'Run with --network none to do without a network, or check that slirp4netns works (slirp4netns --version).',
    exitCode: 125,
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The timer keeps flux alive while it waits, and is cleared so it never delays flux's exit.
  const waitFor = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  // Closing the exit fd already asked it to stop; the signals are for a slirp4netns that hangs.
  if (await waitFor(500)) return;
  child.kill('SIGTERM');
  if (await waitFor(1000)) return;
  child.kill('SIGKILL');
  await waitFor(1000);
}

/** One request on the slirp4netns API socket: a JSON object in, a JSON object out, one per connection. */
export function apiRequest(socketPath: string, body: object): Promise<{ return?: unknown; error?: unknown }> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new FluxError('SLIRP4NETNS_API', 'slirp4netns did not answer on its API socket.', { hint: 'Retry, or run with --network none.', exitCode: 125 }));
    }, API_TIMEOUT_MS);
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      try {
        resolve(JSON.parse(data) as { return?: unknown; error?: unknown });
      } catch (err) {
        reject(new FluxError('SLIRP4NETNS_API', `slirp4netns gave an unreadable API answer: ${data.slice(0, 200)}.`, { hint: 'Retry, or run with --network none.', exitCode: 125, cause: err }));
      }
    };
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(body)));
    sock.on('data', (chunk: string) => {
      data += chunk;
    });
    sock.on('end', done);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(new FluxError('SLIRP4NETNS_API', `cannot reach the slirp4netns API socket: ${err.message}.`, { hint: 'Retry, or run with --network none.', exitCode: 125, cause: err }));
    });
  });
}
