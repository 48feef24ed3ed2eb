/**
 * The contract between the run supervisor (sandbox/run.ts) and a network mode (sandbox/network.ts).
 * The supervisor asks the mode which namespaces to create, starts the helper, and once the
 * container's first process exists (its pid is known, the command has not started yet) calls
 * attach(); the command starts only after attach() resolves. detach() runs however the run ends.
 */

/** The tap device slirp4netns attaches to, made by the helper in the new namespace. */
export const SLIRP_DEVICE = 'tap0';

export interface PortForward {
  hostIp: string;        // '127.0.0.1' or '0.0.0.0' (default, as docker)
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/**
 * A network helper the sandbox helper starts itself, the moment the namespace exists (no round
 * trip to Node). Planned before the image is read; the mode's own data rides along.
 */
export interface NetworkLaunch {
  /** Its command line; the word PID stands for the sandbox helper's pid. */
  readonly argv: string[];
  /** Removes what it leaves on the host (its API socket); for after the run. */
  release(): void;
}

/**
 * What the sandbox tells of a network helper it started, watched from the moment it was spawned
 * (it may be ready, or dead, before anyone asks).
 */
export interface LaunchedHelper {
  /** true once it had the network ready for the command; false if it went away before. */
  readonly ready: Promise<boolean>;
  /**
   * What it wrote on stderr (at most 16 KiB): until it closed (it is gone), or for `ms` at most.
   * Read only when asked: a run that needs no word of it skips the work of its end of file.
   */
  stderr(ms: number): Promise<string>;
}

export interface NetworkRequest {
  mode: string;                  // 'slirp4netns[:opt=v,…]' | 'none' | 'host' | 'pasta'
  publish: PortForward[];        // from -p
  publishAll: boolean;           // -P
  exposedPorts: string[];        // image config ExposedPorts keys, e.g. '80/tcp'
  hostname: string;
  /** Set when the sandbox starts the network helper (planNetwork planned it). */
  launch?: NetworkLaunch;
  /** Where sockets and pid files go instead of the default runtime directory. */
  runtimeDir?: string;
}

export interface NetworkAttachment {
  /** true: the helper makes a new network namespace; false: the container shares the host's. */
  readonly newNamespace: boolean;
  /** Contents for the container's /etc/resolv.conf and /etc/hosts (undefined: copy the host's). */
  readonly resolvConf: string | undefined;
  readonly hosts: string | undefined;
  /** An address that reaches the host from inside (host.containers.internal, --add-host …:host-gateway). */
  readonly hostGateway?: string;
  /** A tap device the helper should create (persistent) in the new namespace for attach() to use. */
  readonly tapDevice?: string;
  /**
   * Wire the namespace of `pid` (the container's first process) before the command runs; with
   * `launched`, the network helper the sandbox started (NetworkRequest.launch) is already at it.
   */
  attach(pid: number, launched?: LaunchedHelper): Promise<void>;
  /** Forwards actually set up (after attach), e.g. for -P to print. */
  published(): PortForward[];
  /** Stop helpers (slirp4netns), remove sockets. Idempotent, never throws. */
  detach(): Promise<void>;
  /**
   * A detached container's network outlives this flux: the attachment lets go of it (detach()
   * then does nothing) and says what is left to remove when the container ends: files, and pid
   * files of helpers to stop. Undefined when it cannot outlive flux (a helper flux itself holds).
   */
  handOver?(): HandedNetwork | undefined;
}

export interface HandedNetwork { files: string[]; pidFiles: string[] }
