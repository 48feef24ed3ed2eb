import { Option, type Command } from 'commander';
import { FluxError } from '../errors.js';
import type { ContainerOptions as RunOptions } from '../library/host-run.js';
import { parsePullPolicy } from '../library/host-run.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** The options of `flux run` (docker/podman names); `flux matrix` may reuse them. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('-e, --env <K=V>', 'set an environment variable; bare K takes the host value (repeatable)', collect, [])
    .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user (name or uid) and group to run as, from the image\'s /etc/passwd')
    .option('--entrypoint <cmd>', 'override the image\'s entrypoint ("" for none)')
    .option('--hostname <name>', 'host name inside the container')
    .option('-v, --volume <HOST:CTR[:ro|rw]>', 'bind-mount a host path (repeatable)', collect, [])
    .option('--tmpfs <path>', 'mount an empty tmpfs (repeatable)', collect, [])
    .option('--read-only', 'mount the root file system read-only')
    .option('--name <name>', 'a name for a detached container (-d), unique per user')
    .option('-i, --interactive', 'pass stdin to the command')
    .option('-t, --tty', 'give the command a pseudo-terminal')
    .option('--rm', 'remove a detached container when it ends (foreground runs are always removed)')
    .option('--network <mode>', 'slirp4netns (default), pasta, none, host, or container:NAME (share a running container\'s)')
    .option('-p, --publish <[ip:]hostPort:ctrPort[/proto]>', 'forward a host port to the container (repeatable)', collect, [])
    .option('-P, --publish-all', 'forward every port the image exposes to a free host port')
    .option('--cap-add <cap>', 'add a capability (repeatable)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability, or ALL (repeatable)', collect, [])
    .option('--privileged', 'all capabilities, no masked or read-only /proc paths')
    .option('--security-opt <opt>', 'no-new-privileges, seccomp=unconfined (repeatable)', collect, [])
    .option('--memory <size>', 'memory limit, e.g. 512m (needs a usable cgroup)')
    .option('--cpus <n>', 'CPU limit, e.g. 1.5 (needs a usable cgroup)')
    .option('--pids-limit <n>', 'process limit (needs a usable cgroup)')
    .addOption(new Option('--pull <policy>', 'missing (default), always or never').choices(['missing', 'always', 'never']).default('missing'))
    .option('--platform <os/arch[/variant]>', 'platform to pull from a multi-platform image')
    .option('--insecure', 'allow plain HTTP to a registry that is not on loopback')
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
  readOnly?: boolean;
  name?: string;
  interactive?: boolean;
  tty?: boolean;
  network?: string;
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
    readOnly: o.readOnly ?? false,
    ...(o.name !== undefined ? { name: o.name } : {}),
    interactive: o.interactive ?? false,
    tty: o.tty ?? false,
    ...(o.network !== undefined ? { network: o.network } : {}),
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
