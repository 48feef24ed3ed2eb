import { Option, type Command } from 'commander';
import { FluxError } from '../errors.js';
import type { ContainerOptions as RunOptions } from '../library/host-run.js';
import { checkTimeout, parsePullPolicy } from '../library/host-run.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** The `--network` modes (each may carry `:opt=value,…`); shell completion offers these. */
export const NETWORK_MODES = ['slirp4netns', 'pasta', 'none', 'host'] as const;

/** The options of `flux run` (docker/podman names); `flux matrix` may reuse them. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('-e, --env <K=V>', 'set an environment variable; bare K takes the host value (repeatable)', collect, [])
    .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user (name or uid) and group to run as, from the image\'s /etc/passwd')
    .option('--entrypoint <cmd>', 'override the image\'s entrypoint ("" for none)')
    .option('--hostname <name>', 'host name inside the container')
    .option('-v, --volume <HOST:CTR[:OPTS]>', 'bind-mount a host path; OPTS a comma list of ro, rw, z, Z, U (repeatable)', collect, [])
    .option('--mount <type=bind|tmpfs,...>', 'docker\'s long form: type=bind,source=…,target=…[,readonly] or type=tmpfs,target=…[,tmpfs-size=…] (repeatable)', collect, [])
    .option('--tmpfs <path[:opts]>', 'mount an empty tmpfs; opts size=, mode=, ro, noexec (repeatable)', collect, [])
    .option('--read-only', 'mount the root file system read-only')
    .option('--name <name>', 'a name for the run (in /etc/hosts and /run/.containerenv); unique per user for a detached container (-d)')
    .option('--add-host <name:ip>', 'add a line to /etc/hosts; ip may be host-gateway (repeatable)', collect, [])
    .option('--dns <ip>', 'a name server for /etc/resolv.conf, instead of the network\'s (repeatable)', collect, [])
    .option('--dns-search <domain>', 'a search domain for /etc/resolv.conf (repeatable; "." for none)', collect, [])
    .option('--dns-option <opt>', 'an options entry for /etc/resolv.conf, e.g. ndots:2 (repeatable)', collect, [])
    .option('--tz <zone>', 'the time zone (/etc/localtime): Area/City, UTC, or local for the host\'s')
    .option('--unsetenv <name>', 'drop a variable from the command\'s environment, flux\'s defaults included (repeatable)', collect, [])
    .option('--group-add <group>', 'an extra supplementary group, by gid or the image\'s name (repeatable)', collect, [])
    .option('--ulimit <name=soft[:hard]>', 'a resource limit for the command, e.g. nofile=1024:4096 (repeatable)', collect, [])
    .option('--init', 'run an init as pid 1 (accepted: flux always does)')
    .option('--stop-signal <signal>', 'the signal flux stop and --timeout stop the command with (default: the image\'s StopSignal, else SIGTERM)')
    .option('--label <key=value>', 'a label for the run (repeatable)', collect, [])
    .option('--timeout <secs>', 'stop the run after SECS seconds; it then exits with 124')
    .option('--preserve-fds <n>', 'pass flux\'s fds 3…3+N-1 on to the command')
    .option('--userns <mode>', 'keep-id[:uid=N,gid=N] (be yourself inside, volumes stay yours) or host (real root only)')
    .option('-i, --interactive', 'pass stdin to the command')
    .option('-t, --tty', 'give the command a pseudo-terminal')
    .option('--rm', 'remove a detached container when it ends (foreground runs are always removed)')
    .option('--network <mode>', `${NETWORK_MODES[0]} (default), ${NETWORK_MODES.slice(1).join(', ')}, container:NAME (share a running container's), or a network's name (flux network create)`)
    .option('--network-alias <name>', 'another name of the container on its user network (repeatable)', collect, [])
    .option('-p, --publish <[ip:]hostPort:ctrPort[/proto]>', 'forward a host port to the container (repeatable)', collect, [])
    .option('-P, --publish-all', 'forward every port the image exposes to a free host port')
    .option('--cap-add <cap>', 'add a capability (repeatable)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability, or ALL (repeatable)', collect, [])
    .option('--privileged', 'all capabilities, no masked or read-only /proc paths')
    .option('--security-opt <opt>', 'no-new-privileges, seccomp=unconfined (repeatable)', collect, [])
    .option('--memory <size>', 'memory limit, e.g. 512m (needs a usable cgroup)')
    .option('--cpus <n>', 'CPU limit, e.g. 1.5 (needs a usable cgroup)')
    .option('--pids-limit <n>', 'process limit (a cgroup\'s; rootless without one, RLIMIT_NPROC in the user namespace)')
    .addOption(new Option('--pull <policy>', 'missing (default), always or never').choices(['missing', 'always', 'never']).default('missing'))
    .option('--platform <os/arch[/variant]>', 'platform to pull from a multi-platform image')
    .option('--insecure', 'allow plain HTTP and unverified TLS for a registry not on loopback')
    .option('--verbose', 'say which root filesystem kind was used, and more')
    .option('-q, --quiet', 'no progress output');
}

export interface CliRunOpts {
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  volume?: string[];
  tmpfs?: string[];
  mount?: string[];
  readOnly?: boolean;
  name?: string;
  addHost?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  tz?: string;
  unsetenv?: string[];
  groupAdd?: string[];
  ulimit?: string[];
  init?: boolean;
  stopSignal?: string;
  label?: string[];
  timeout?: string;
  userns?: string;
  preserveFds?: string;
  interactive?: boolean;
  tty?: boolean;
  network?: string;
  networkAlias?: string[];
  publish?: string[];
  publishAll?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  pull?: string;
  platform?: string;
  insecure?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

export function runOptionsFromCli(o: CliRunOpts): RunOptions {
  const pull = parsePullPolicy(o.pull ?? 'missing');
  return {
    env: o.env ?? [],
    envFile: o.envFile ?? [],
    ...(o.workdir !== undefined ? { workdir: o.workdir } : {}),
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.entrypoint !== undefined ? { entrypoint: o.entrypoint } : {}),
    ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
    volume: o.volume ?? [],
    tmpfs: o.tmpfs ?? [],
    mount: o.mount ?? [],
    readOnly: o.readOnly ?? false,
    ...(o.name !== undefined ? { name: o.name } : {}),
    addHost: o.addHost ?? [],
    dns: o.dns ?? [],
    dnsSearch: o.dnsSearch ?? [],
    dnsOption: o.dnsOption ?? [],
    ...(o.tz !== undefined ? { tz: o.tz } : {}),
    unsetenv: o.unsetenv ?? [],
    groupAdd: o.groupAdd ?? [],
    ulimit: o.ulimit ?? [],
    ...(o.stopSignal !== undefined ? { stopSignal: o.stopSignal } : {}),
    label: o.label ?? [],
    ...(o.userns !== undefined ? { userns: o.userns } : {}),
    ...(o.preserveFds !== undefined ? { preserveFds: /^\d+$/.test(o.preserveFds) ? Number(o.preserveFds) : Number.NaN } : {}),
    ...(o.timeout !== undefined ? { timeout: seconds(o.timeout) } : {}),
    interactive: o.interactive ?? false,
    tty: o.tty ?? false,
    ...(o.network !== undefined ? { network: o.network } : {}),
    networkAlias: o.networkAlias ?? [],
    publish: o.publish ?? [],
    publishAll: o.publishAll ?? false,
    capAdd: o.capAdd ?? [],
    capDrop: o.capDrop ?? [],
    privileged: o.privileged ?? false,
    securityOpt: o.securityOpt ?? [],
    pull,
    ...(o.platform !== undefined ? { platform: o.platform } : {}),
    insecure: o.insecure ?? false,
    verbose: o.verbose ?? false,
    quiet: o.quiet ?? false,
    limits: {
      ...(o.memory !== undefined ? { memory: o.memory } : {}),
      ...(o.cpus !== undefined ? { cpus: o.cpus } : {}),
      ...(o.pidsLimit !== undefined ? { pidsLimit: o.pidsLimit } : {}),
    },
  };
}

/** --timeout's text as seconds, refused as written when it is not a positive number. */
function seconds(text: string): number {
  const n = /^\s*$/.test(text) ? Number.NaN : Number(text);
  checkTimeout(n, JSON.stringify(text));
  return n;
}
