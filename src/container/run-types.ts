/** What a run is asked for (flux run's options) and what it tells its caller (see run-container.ts). */
import type { MonitorLaunch } from '../sandbox/supervisor.js';
import type { PortForward } from '../sandbox/network-types.js';
import type { Limits } from '../sandbox/limits.js';
import type { ProcessSettings } from '../sandbox/exec-process.js';
import type { HandedMember } from './user-networks.js';

export interface RunOptions {
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  volume: string[];
  tmpfs: string[];
  /** docker's --mount type=bind|tmpfs,… */
  mount?: string[];
  readOnly: boolean;
  name?: string;
  /** --add-host NAME:IP|host-gateway */
  addHost?: string[];
  /** --dns, --dns-search, --dns-option: the container's /etc/resolv.conf. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  /** --tz ZONE|local */
  tz?: string;
  /** --unsetenv NAME: removed from the command's environment (flux's defaults and the image's too). */
  unsetenv?: string[];
  /** --group-add GROUP (gid or the image's group name) */
  groupAdd?: string[];
  /** --ulimit NAME=SOFT[:HARD] */
  ulimit?: string[];
  /** --stop-signal: the signal --timeout stops the command with (default: the image's StopSignal, else SIGTERM). */
  stopSignal?: string;
  /** --label KEY=VALUE */
  label?: string[];
  /** --timeout SECS: the run is stopped after SECS and ends with exit code 124. */
  timeout?: number;
  /** --userns: '' (flux's map: root inside is you), keep-id[:uid=N,gid=N], host (real root only). */
  userns?: string;
  /** --preserve-fds N: flux's fds 3…3+N-1 go on to the command. */
  preserveFds?: number;
  interactive: boolean;
  tty: boolean;
  network?: string;
  /** --network-alias: more names of this container on its user network. */
  networkAlias?: string[];
  publish: string[];
  publishAll: boolean;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  securityOpt: string[];
  pull: 'missing' | 'always' | 'never';
  platform?: string;
  insecure: boolean;
  verbose: boolean;
  quiet: boolean;
  limits: Limits;
  /** The store's root; the default is FLUX_STORE or the XDG data directory. */
  store?: string;
  /** The directory for sockets and pid files; the default is $XDG_RUNTIME_DIR/flux or /tmp/flux-UID. */
  runtimeDir?: string;
  /**
   * The detached container this run is (its monitor sets it): the run dir is the container's,
   * kept with its writable layer when the run ends, until the container is removed.
   */
  containerId?: string;
}

/** Where a run's output and flux's own messages go when not the host's (a matrix runs many at once). */
export interface RunIO {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** Receives a way to signal the sandbox; the host's signals are then not forwarded to it. */
  onSpawn?(kill: (sig: NodeJS.Signals) => void): void;
  /** flux's own notices and warnings; without it they go where the run's stderr goes. */
  say?(text: string): void;
  /** The command's process settings, as `flux exec` needs them to start another like it. */
  onProcess?(p: ProcessProfile): void;
  /**
   * A detached container: the helper becomes its monitor (stdout and stderr go to its log, not
   * to stdout() and stderr()), and the run returns once the command runs, after onRunning.
   */
  monitor?: MonitorLaunch;
  /**
   * Called once the container's plan has gone to the helper, while flux waits for it to build
   * the container: a detached container's state is written then.
   */
  meanwhile?(): void;
  /** The command runs under its monitor: what it must clean up when the container ends. */
  onRunning?(monitorPid: number, handed: HandedRun): void;
}

/** What a detached container's end still has to clean up (see container/ended.ts). */
export interface HandedRun {
  files: string[];
  pidFiles: string[];
  network?: HandedMember;
  cgroups: string[];
  /** The default network's forwards as made (host ports -P and -p PORT picked included). */
  published?: PortForward[];
}

/** What a process started in a running container shares with its command (see exec-container.ts). */
export interface ProcessProfile extends ProcessSettings {
  /** The image's StopSignal, as written there (`SIGTERM`, `TERM`, `15`); `flux stop` sends it. */
  stopSignal?: string;
  /** --pids-limit N held by RLIMIT_NPROC (no cgroup): a process `flux exec` starts gets it too. */
  nproc?: number;
  /**
   * HOME in env is the user's home from passwd, as flux sets it when neither the image's Env, an
   * env file nor -e did: `flux exec -u USER` then gives USER's home instead, as `run -u USER` would.
   */
  homeFromUser?: boolean;
}

/** What a run starts from: an image (pulled by the policy), or an unpacked root filesystem directory. */
export type RunTarget = string | { rootfs: string };
