/**
 * The public shapes of flux's library (`import { Flux } from 'flux'`). Plain data in, plain data
 * out: the CLI prints these very records (`flux images --json`, `flux matrix --json`). A later
 * `Container` object (start, status, logs, exec, stop, wait, remove) adds methods and types here
 * without changing any of these.
 */
import type { Writable } from 'node:stream';
import type { PullEvents, PullPolicy } from '../pull/pull-image.js';

export type { PullEvents, PullPolicy };
export type { Descriptor } from '../image/types.js';

export interface FluxOptions {
  /** The store's root. Default: FLUX_STORE, else $XDG_DATA_HOME/flux, else ~/.local/share/flux (as the CLI). */
  store?: string;
  /** The directory for run state (network helper sockets). Default: $XDG_RUNTIME_DIR/flux, else a private /tmp/flux-UID. */
  runtimeDir?: string;
}

export interface PullOptions {
  /** os/arch[/variant] to choose from a multi-platform image; default: this host. */
  platform?: string;
  /** always (default, as `flux pull`): ask the source; missing: only when not stored; never: the store only. */
  policy?: PullPolicy;
  /** Plain HTTP and unverified TLS for a registry that is not on loopback. */
  insecure?: boolean;
  /** Progress of the blobs as they are fetched, and notices. */
  onProgress?: PullEvents;
}

/** One stored image, the record `flux images --json` prints. */
export interface ImageInfo {
  reference: string;
  repository: string;
  tag: string | null;
  id: string;
  digest: string;
  indexDigest: string | null;
  platform: string;
  created: string | null;
  size: number;
  unpackedSize: number | null;
  pulledAt: string;
  lastUsed: string;
}

export interface RemoveResult {
  /** The references removed. */
  untagged: string[];
  /** The image IDs (12 hex digits) no reference names any more. */
  deleted: string[];
  freedBytes: number;
  /** Blobs and unpacked layers removed with them. */
  blobs: number;
  layers: number;
}

export interface PruneResult {
  blobs: number;
  layers: number;
  tmpEntries: number;
  /** Writable layers (runs/ directories) of foreground runs whose flux was killed. */
  runDirs: number;
  freedBytes: number;
}

/** Where a run's output goes: the host's own, nowhere, captured into the result, or a stream. */
export type OutputTarget = 'inherit' | 'ignore' | 'pipe' | Writable;

/** A foreground run: the options of `flux run`, by their long names. */
export interface RunOptions {
  /** The image (reference, ID, oci:DIR, …); exactly one of image and rootfs. */
  image?: string;
  /** An unpacked root filesystem directory, never written (a throw-away overlay goes on top). */
  rootfs?: string;
  /** Command and arguments; default: the image's Entrypoint and Cmd. */
  command?: string[];
  /** `K=V` entries (bare `K` takes the host's value), or an object. */
  env?: string[] | Record<string, string>;
  envFile?: string[];
  workdir?: string;
  user?: string;
  /** Replaces the image's Entrypoint ('' for none). */
  entrypoint?: string;
  hostname?: string;
  /** The run's name: in /etc/hosts and /run/.containerenv; a detached container's, unique per user (default: a random one). */
  name?: string;
  /** `NAME:IP` or `NAME:host-gateway` lines for /etc/hosts, as --add-host. */
  addHost?: string[];
  /** Name servers, search domains and options for /etc/resolv.conf, as --dns, --dns-search, --dns-option. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  /** `Area/City`, `UTC` or `local`, as --tz. */
  tz?: string;
  /** Variables dropped from the command's environment, as --unsetenv. */
  unsetenv?: string[];
  /** Extra supplementary groups (gid or the image's group name), as --group-add. */
  groupAdd?: string[];
  /** `NAME=SOFT[:HARD]`, as --ulimit. */
  ulimit?: string[];
  /** The signal `timeout` stops the command with; default the image's StopSignal, else SIGTERM. */
  stopSignal?: string;
  /** `KEY=VALUE`, as --label. */
  labels?: string[];
  /** Seconds after which the run is stopped; it then resolves with exitCode 124. */
  timeout?: number;
  /** `keep-id[:uid=N,gid=N]` or `host` (real root only), as --userns. */
  userns?: string;
  /** The calling process's fds 3…3+N-1 go on to the command, as --preserve-fds. */
  preserveFds?: number;
  /** `HOST:CONTAINER[:OPTIONS]`, as -v (OPTIONS a comma list of ro, rw, z, Z, U). */
  volumes?: string[];
  /** `type=bind,source=…,target=…` or `type=tmpfs,target=…`, as --mount. */
  mounts?: string[];
  /** `PATH[:size=…,mode=…]`, as --tmpfs. */
  tmpfs?: string[];
  readOnly?: boolean;
  /** slirp4netns (default), pasta, none, host or container:NAME, with options as --network. */
  network?: string;
  /** More names of the container on its user network, as --network-alias. */
  networkAliases?: string[];
  /** `[ip:]hostPort:containerPort[/proto]`, as -p. */
  ports?: string[];
  publishAll?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  /** no-new-privileges, seccomp=unconfined. */
  securityOpt?: string[];
  limits?: { memory?: string | number; cpus?: string | number; pids?: string | number };
  /** missing (default), always or never. */
  pull?: PullPolicy;
  platform?: string;
  insecure?: boolean;
  /** 'inherit' passes the host's stdin to the command; default 'ignore'. */
  stdin?: 'inherit' | 'ignore';
  stdout?: OutputTarget;
  stderr?: OutputTarget;
  tty?: boolean;
  /**
   * Stops the run the way Ctrl-C does: the signal named by the abort reason ('SIGTERM', …) or
   * SIGINT goes to the container, and the run resolves once it has ended.
   */
  signal?: AbortSignal;
  /** flux's own notices and warnings (one line each); default: dropped. */
  onMessage?: (text: string) => void;
  /** Leave the container running under its own monitor: run() then resolves to a Container once the command runs. */
  detach?: boolean;
  /** Remove the detached container when it ends (--rm). */
  remove?: boolean;
  /** The detached container's log is rotated at this size (bytes, or '10m', the default); two are kept. */
  logMaxSize?: string | number;
}

export interface RunResult {
  /** The command's exit status (128+N when a signal N ended it). */
  exitCode: number;
  /** The signal flux sent to stop the run (after `signal` aborted). */
  signal?: NodeJS.Signals;
  /** Captured output, with 'pipe'. */
  stdout?: Buffer;
  stderr?: Buffer;
  durationMs: number;
}
