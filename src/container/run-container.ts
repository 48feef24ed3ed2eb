/** A foreground run: find (or pull) the image, turn its config and the options into a sandbox, run it. */
import { accessSync, constants, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { FluxError } from '../errors.js';
import { escapeText } from '../escape.js';
import { lap } from '../timing.js';
import { Store } from '../../store/store.js';
import type { ImageRecord } from '../../store/image-index.js';
import { parseGroup, parsePasswd, resolveUser } from '../image/user.js';
import { capMask, capSet } from '../sandbox/caps.js';
import { mappedCount, toolPath, type IdMaps } from '../userns/idmap.js';
import { defaultIdOf, keepIdFuseMapping, mapArgsFor } from '../userns/keep-id.js';
import { readLayerFile } from '../sandbox/layer-files.js';
import type { ContainerSpec, NamespaceSpec, RlimitSpec, RootfsSpec, TmpfsSpec } from '../sandbox/plan.js';
import { containerRunName } from '../container-runs.js';
import { nprocRlimit } from '../sandbox/nproc-rlimit.js';
import { claimRunDir, cleanStaleRuns, makeRunDir, planRunDir, randomHex, overlayChoice, overlaySpec, prepareCopy, removeTree, type RunDir } from '../sandbox/rootfs.js';
import { runSandbox, startSandbox, type LaunchOptions, type MonitorLaunch, type Sandbox } from '../sandbox/supervisor.js';
import { isRealRoot, warnSingleMap } from '../userns/userns.js';
import type { LaunchedHelper, NetworkAttachment, PortForward } from '../sandbox/network-types.js';
import type { Limits } from '../sandbox/limits.js';
import { commandLine, parseEnvFile, parseSecurityOpts, processSpec } from './process-spec.js';
import { parseVolume, type VolumeRequest } from './volume-options.js';
import { parseTmpfs } from './tmpfs-options.js';
import { parseMount } from './mount-flag.js';
import { chownVolumes } from './chown-volumes.js';
import { containerEnvFile } from './containerenv.js';
import { containerHosts } from './etc-hosts.js';
import { timezoneVolume } from './timezone.js';
import { parseUlimit } from './ulimit.js';
import { parseSignal } from './stop-signal.js';
import { parseLabels } from './labels.js';
import { addedGroups } from './group-add.js';
import { resolvConf } from './resolv-conf.js';
import { keepIdEtcFiles } from './keep-id-etc.js';
import { checkPreserveFds } from './preserve-fds.js';
import { runIdMaps } from './userns-option.js';
import { startTimeout, TIMEOUT_EXIT, type RunTimer } from './run-timeout.js';
import type { HandedMember, Joined } from './user-networks.js';

function readHostFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** keep-id's root: fuse-overlayfs only, the layers shown with their own owners (keep-id.ts). */
function keepIdOverlay(rd: RunDir, lowers: string[]): RootfsSpec {
  try {
    return overlaySpec('fuse', rd, lowers);
  } catch (err) {
    if (!(err instanceof FluxError)) throw err;
    throw new FluxError(err.code, `--userns=keep-id needs fuse-overlayfs: ${err.message.replace(/^./, (c) => c.toLowerCase())}`, {
      hint: (err.hint ?? '').replace(/,? or use FLUX_OVERLAY=copy/, ''),
      exitCode: 125,
    });
  }
}

/** What z/Z come to here: flux never relabels; without SELinux there is nothing to relabel. */
function relabelNote(mark: 'z' | 'Z'): string {
  return existsSync('/sys/fs/selinux/enforce')
    ? `option ${mark} accepted; flux does not relabel, the host's SELinux labels stay.`
    : `option ${mark} accepted; this host has no SELinux, so there is nothing to relabel.`;
}

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
export interface ProcessProfile {
  uid: number;
  gid: number;
  groups: number[];
  /** A capability mask (hex) or 'all'. */
  caps: string;
  noNewPrivileges: boolean;
  seccomp: boolean;
  path: string;
  env: string[];
  cwd: string;
  /** The image's StopSignal, as written there (`SIGTERM`, `TERM`, `15`); `flux stop` sends it. */
  stopSignal?: string;
  /** --pids-limit N held by RLIMIT_NPROC (no cgroup): a process `flux exec` starts gets it too. */
  nproc?: number;
}

/** What a run starts from: an image (pulled by the policy), or an unpacked root filesystem directory. */
export type RunTarget = string | { rootfs: string };

/** The directory a run starts from, checked before anything is started: never written, only read. */
function checkRootfs(dir: string): string {
  const abs = resolvePath(dir);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw bad('BAD_ROOTFS', `the root filesystem ${abs} does not exist.`, 'Give --rootfs an unpacked root filesystem directory.');
  }
  if (!st.isDirectory()) throw bad('BAD_ROOTFS', `the root filesystem ${abs} is not a directory.`, 'Give --rootfs an unpacked root filesystem directory.');
  try {
    accessSync(abs, constants.R_OK | constants.X_OK);
  } catch {
    throw bad('BAD_ROOTFS', `the root filesystem ${abs} is not readable by you.`, 'Give --rootfs a directory you can read, or fix its permissions.');
  }
  return abs;
}

const bad = (code: string, message: string, hint: string) => new FluxError(code, message, { hint, exitCode: 125 });

async function findRecord(image: string, o: RunOptions, store: Store, say: (text: string) => void, resolver = import('../pull/pull-image.js')): Promise<ImageRecord> {
  const { ensureImage } = await resolver;
  return ensureImage(image, {
    store,
    pull: o.pull,
    ...(o.platform ? { platform: o.platform } : {}),
    insecure: o.insecure,
    events: { notice: (m: string) => say(`flux: ${escapeText(m)}\n`) },
  });
}

/** The maps the helper writes itself (newuidmap argv with a placeholder pid, or a single-id map). */
function helperMaps(m: IdMaps): NonNullable<NamespaceSpec['idmap']> {
  if (m.single) return { kind: 'single', uid: m.user.uid, gid: m.user.gid };
  return {
    kind: 'full',
    uid: [toolPath('newuidmap'), 'PID', ...mapArgsFor(m).uid],
    gid: [toolPath('newgidmap'), 'PID', ...mapArgsFor(m).gid],
  };
}

/** With -P or -p PORT the host ports are flux's choice: say which, once they are set up. */
function announcing(network: NetworkAttachment, say: (text: string) => void): NetworkAttachment {
  return {
    newNamespace: network.newNamespace,
    resolvConf: network.resolvConf,
    hosts: network.hosts,
    ...(network.hostGateway ? { hostGateway: network.hostGateway } : {}),
    ...(network.tapDevice ? { tapDevice: network.tapDevice } : {}),
    attach: async (pid: number, launched?: LaunchedHelper) => {
      await network.attach(pid, launched);
      for (const f of network.published()) say(`flux: published ${f.hostIp}:${f.hostPort} -> ${f.containerPort}/${f.protocol}\n`);
    },
    published: () => network.published(),
    detach: () => network.detach(),
  };
}

/** The built-in modes (with or without options); a network's name has no colon and none of these. */
const isNetworkMode = (network: string): boolean => network.includes(':') || ['slirp4netns', 'pasta', 'none', 'host'].includes(network);

/** Joins the user network o.network names, if one does: its hosts file becomes the container's /etc/hosts. */
async function joinUserNetwork(o: RunOptions, volumes: VolumeRequest[], say: (text: string) => void): Promise<Joined | undefined> {
  const nets = await import('./user-networks.js');
  if (!nets.isUserNetwork(o.network!, o.runtimeDir)) return undefined;
  const { parsePublishAll } = await import('../sandbox/network.js');
  const asked: PortForward[] = o.publish.flatMap((p) => parsePublishAll(p));
  const publish = asked.some((f) => f.hostPort === 0) ? await (await import('../sandbox/ports.js')).choosePorts(asked) : asked;
  const joined = await nets.joinNetwork(o.network!, o.name ?? `flux-${randomHex(6)}`, o.networkAlias ?? [], o.runtimeDir, publish, o.publishAll);
  volumes.push({ host: joined.hostsFile, container: '/etc/hosts', readOnly: true });
  // A host port flux picked (-p 80) is said, as on the default network.
  if (asked.some((f) => f.hostPort === 0)) for (const f of publish) say(`flux: published ${f.hostIp}:${f.hostPort} -> ${f.containerPort}/${f.protocol}\n`);
  return joined;
}

/** A process of the running container NAME whose namespaces a new container joins. */
async function joinTarget(name: string, o: RunOptions): Promise<number> {
  if (o.publish.length > 0 || o.publishAll) {
    throw bad('BAD_NETWORK', '-p and -P cannot be used with --network container:NAME (that container\'s network is shared as it is).', 'Publish the ports on the container whose network is shared.');
  }
  // Loaded only for this mode: a plain run does not pay for the detached containers' modules.
  const [{ containersRoot, findState }, { joinableProcess }] = await Promise.all([import('./container-state.js'), import('./container-ops.js')]);
  const target = joinableProcess(findState(containersRoot(o.runtimeDir), name));
  if (target === undefined) throw bad('CONTAINER_NOT_RUNNING', `the container ${name} is not running, so its network cannot be shared.`, `Start it first (flux run -d --name ${name} ...).`);
  return target;
}

export async function runCommand(target: RunTarget, cmd: string[], o: RunOptions, io?: RunIO): Promise<number> {
  const say = io?.say ?? (io ? (text: string) => io.stderr(Buffer.from(text)) : (text: string) => void process.stderr.write(text));
  const image = typeof target === 'string' ? target : { rootfs: checkRootfs(target.rootfs) };
  // Both are needed on every run: start loading them now, alongside the checks below.
  const resolver = import('../pull/pull-image.js');
  const networking = import('../sandbox/network.js');
  resolver.catch(() => undefined);
  networking.catch(() => undefined);
  const security = parseSecurityOpts(o.securityOpt);
  const caps = capSet(o.capAdd, o.capDrop);
  const volumes = o.volume.map((v) => parseVolume(v));
  const tmpfs = o.tmpfs.map((t) => parseTmpfs(t));
  for (const m of (o.mount ?? []).map((spec) => parseMount(spec))) {
    if (m.kind === 'bind') volumes.push(m.volume);
    else tmpfs.push(m.tmpfs);
  }
  if (o.tz !== undefined) volumes.push(timezoneVolume(o.tz));
  const rlimits = (o.ulimit ?? []).map((u) => parseUlimit(u, isRealRoot()));
  const stopSignal = o.stopSignal !== undefined ? parseSignal(o.stopSignal, '--stop-signal') : undefined;
  parseLabels(o.label ?? []);
  if (o.preserveFds !== undefined) checkPreserveFds(o.preserveFds);
  if (o.timeout !== undefined && !(Number.isFinite(o.timeout) && o.timeout > 0)) {
    throw bad('BAD_TIMEOUT', `--timeout ${o.timeout} is not a positive number of seconds.`, 'Write --timeout 60 for a run of at most a minute.');
  }
  if (o.verbose) for (const v of volumes) if (v.relabel) say(`flux: volume ${v.host}: ${relabelNote(v.relabel)}\n`);
  const choice = overlayChoice();
  // cgroup code only when a limit is asked for.
  const wanted = Object.values(o.limits).some((v) => v !== undefined) ? (await import('../sandbox/pids-rlimit.js')).limitsOrNproc(o.limits, isRealRoot()) : {};
  const limits = wanted.cgroup;
  const nproc = wanted.nproc;
  if (nproc !== undefined && o.verbose) {
    say(`flux: --pids-limit ${nproc}: no cgroup flux may manage here, so RLIMIT_NPROC in the container's user namespace holds it to ${nproc} processes.\n`);
  }

  const root = isRealRoot();
  // As real root there is no user namespace: every id is itself already, keep-id included.
  const maps = runIdMaps(o.userns, root, choice);
  // --network container:NAME joins that container's namespaces: no network of its own to make.
  let join = o.network?.startsWith('container:') ? await joinTarget(o.network.slice('container:'.length), o) : undefined;
  // A user network (flux network create): its own namespace on the network's bridge, joined the same way.
  const userNet = join === undefined && o.network !== undefined && !isNetworkMode(o.network) ? await joinUserNetwork(o, volumes, say) : undefined;
  if (userNet) join = userNet.pid;
  const mode = join !== undefined ? 'host' : (o.network ?? 'slirp4netns');
  const { parsePublishAll, planNetwork } = await networking;
  // Network first: a bad -p or mode is refused before anything touches the disk.
  // A user network's forwards are its own slirp4netns's (set up as the container joined).
  const asked: PortForward[] = userNet ? [] : o.publish.flatMap((p) => parsePublishAll(p));
  // `-p 80`: flux picks the host port, and says which once it is set up (as with -P).
  const chosen = asked.some((f) => f.hostPort === 0);
  const publish = chosen ? await (await import('../sandbox/ports.js')).choosePorts(asked) : asked;
  const needs = await planNetwork(mode, publish, o.publishAll, o.runtimeDir, o.containerId !== undefined);
  lap('modules');

  const store = Store.open(o.store);
  const kept = o.containerId;
  const rd = planRunDir(store.runsDir, kept !== undefined ? containerRunName(kept) : undefined);
  // The helper creates the namespaces, maps the ids and makes the run dir while the image is read below.
  const namespaces: NamespaceSpec = {
    runDir: rd.dir,
    ...(maps && join === undefined ? { idmap: helperMaps(maps) } : {}),
    ...(join !== undefined ? { join } : {}),
    waitGo: needs.wired || limits !== undefined,
    // A cgroup must be joined before the namespaces are complete; a network can be wired meanwhile.
    deferGo: limits === undefined,
    ...(needs.tapDevice ? { tap: needs.tapDevice } : {}),
    ...(needs.launch ? { netHelper: needs.launch.argv } : {}),
    userns: !root,
    newNet: needs.newNamespace,
  };
  const launch: LaunchOptions = {
    ...(maps && join === undefined ? { maps } : {}),
    ...(o.preserveFds ? { preserveFds: checkPreserveFds(o.preserveFds) } : {}),
    interactive: o.interactive,
    ...(io?.monitor ? { monitor: io.monitor } : io ? { output: io, ...(io.onSpawn ? { onSpawn: (kill: (sig: NodeJS.Signals) => void) => io.onSpawn?.(kill)} : {}) } : {}),
  };
  const sandbox = startSandbox(namespaces, launch);
  const handed = { done: false };
  try {
    return await runImage({ io, image, cmd, o, say, resolver, networking, security, caps, volumes, tmpfs, rlimits, stopSignal, choice, limits, nproc, maps, mode, publish, chosen, network: needs, namespaces, launch, sandbox, store, rd, userNet, handed });
  } finally {
    // A detached container's helper, network and layer are its monitor's from here.
    if (!handed.done) await endRun();
  }

  async function endRun(): Promise<void> {
    await userNet?.leave();
    await sandbox.cancel();
    needs.launch?.release();
    await sandbox.cleanedUp();
    // The helper removes the run dir when the run ends; one refused earlier, or a helper that
    // died, leaves it (with the image's sub-uid files, only removable in the user namespace).
    // A container's stays: its writable layer goes with the container.
    if (kept === undefined && existsSync(rd.dir)) {
      try {
        rmSync(rd.dir, { recursive: true, force: true });
      } catch {
        await removeTree([rd.dir]);
      }
    }
    // A detached container that never started: its monitor only ends.
    if (io?.monitor) sandbox.letGo(false);
  }
}

/** What runCommand settled before reading the image, the started helper included. */
interface Started {
  io: RunIO | undefined;
  image: string | { rootfs: string };
  cmd: string[];
  o: RunOptions;
  say: (text: string) => void;
  resolver: Promise<typeof import('../pull/pull-image.js')>;
  networking: Promise<typeof import('../sandbox/network.js')>;
  security: { noNewPrivileges: boolean; seccomp: boolean };
  caps: Set<string>;
  volumes: VolumeRequest[];
  tmpfs: TmpfsSpec[];
  rlimits: RlimitSpec[];
  stopSignal: NodeJS.Signals | undefined;
  choice: ReturnType<typeof overlayChoice>;
  limits: Awaited<ReturnType<typeof import('../sandbox/limits.js').checkLimits>> | undefined;
  /** --pids-limit without a cgroup: applied through RLIMIT_NPROC (sandbox/pids-rlimit.ts). */
  nproc: number | undefined;
  maps: IdMaps | undefined;
  mode: string;
  publish: PortForward[];
  /** A host port of -p was flux's choice. */
  chosen: boolean;
  network: import('../sandbox/network.js').NetworkPlan;
  namespaces: NamespaceSpec;
  launch: LaunchOptions;
  sandbox: Sandbox;
  store: Store;
  /** Chosen, not yet made: the helper and claimRunDir make it. */
  rd: RunDir;
  /** The user network joined, if any. */
  userNet: Joined | undefined;
  /** Set once a detached container's monitor holds it: nothing is to be cleaned up here. */
  handed: { done: boolean };
}

/** Reads the image, prepares the root and hands the container to the waiting helper. */
async function runImage(started: Started): Promise<number> {
  // The container part is on its way to the helper: io's own work fills the wait for it.
  const meanwhile = <T>(running: Promise<T>): Promise<T> => {
    started.io?.meanwhile?.();
    return running;
  };
  const { io, image, cmd, o, say, resolver, networking, security, caps, volumes, tmpfs, choice, limits, maps, mode, publish, namespaces, launch, sandbox, store, rd } = started;
  // A root filesystem directory is a single read-only layer with no image config.
  const record = typeof image === 'string' ? await findRecord(image, o, store, say, resolver) : undefined;
  lap('image');
  const config = record?.config.config ?? {};
  if (started.userNet && o.publishAll) for (const f of await started.userNet.publishExposed(Object.keys(config.ExposedPorts ?? {}))) say(`flux: published ${f.hostIp}:${f.hostPort} -> ${f.containerPort}/${f.protocol}\n`);
  const argv = commandLine(config, cmd, o.entrypoint);
  if (argv.length === 0) {
    if (!record) throw bad('NO_COMMAND', 'no command given, and a root filesystem directory has no Entrypoint or Cmd.', 'Name one after --: flux run --rootfs DIR -- sh.');
    throw bad('NO_COMMAND', `no command given and the image ${record.reference} has no Entrypoint or Cmd.`, `Name one: flux run ${image as string} -- sh.`);
  }
  const lowers = record ? record.layers.map((l) => store.layerPath(l.diffId)).reverse() : [(image as { rootfs: string }).rootfs];
  if (lowers.length === 0) throw bad('NO_LAYERS', `the image ${record!.reference} has no layers.`, 'Pull a complete image.');

  const passwd = parsePasswd(readLayerFile(lowers, 'etc/passwd') ?? '');
  const group = parseGroup(readLayerFile(lowers, 'etc/group') ?? '');
  const keep = maps?.keep;
  // keep-id runs the command as the kept ids unless -u says otherwise, as podman does.
  const user = resolveUser(o.user ?? (keep ? `${keep.uid}:${keep.gid}` : config.User), passwd, group);
  const rlimits = started.nproc !== undefined ? [...started.rlimits, nprocRlimit(started.nproc, user.uid)] : started.rlimits;
  if (maps) {
    const max = maps.single ? 1 : Math.min(mappedCount(maps.uidRanges), mappedCount(maps.gidRanges));
    const high = Math.max(user.uid, user.gid, ...user.groups);
    if (high >= max) {
      throw bad('ID_NOT_MAPPED', `the image's user ${o.user ?? config.User} (id ${high}) lies outside the ${max} ids mapped for you.`,
        maps.single ? `Give yourself subordinate ids: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${maps.user.name}` : 'Enlarge your range in /etc/subuid and /etc/subgid.');
    }
    if (maps.single) user.groups = [];
  }
  if (o.groupAdd?.length) user.groups = [...new Set([...user.groups, ...addedGroups(o.groupAdd, group)])];
  if (maps && o.groupAdd?.length) {
    const max = maps.single ? 1 : mappedCount(maps.gidRanges);
    const high = Math.max(...user.groups);
    if (high >= max) throw bad('ID_NOT_MAPPED', `the group ${high} of --group-add lies outside the ${max} ids mapped for you.`, 'Give a group below that, or enlarge your range in /etc/subgid.');
    if (maps.single) throw bad('ID_NOT_MAPPED', '--group-add needs subordinate ids: only root exists in the sandbox without them.', `Give yourself subordinate ids: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${maps.user.name}`);
  }
  if (volumes.some((v) => v.chown)) await chownVolumes(volumes, keep ? defaultIdOf(user.uid, keep.uid) : user.uid, keep ? defaultIdOf(user.gid, keep.gid) : user.gid);

  // podman's shape: a 64-digit id, whose first 12 digits are the default hostname and name.
  const id = o.containerId ?? randomHex(32);
  const hostname = o.hostname ?? id.slice(0, 12);
  const fileEnv = o.envFile.flatMap((f) => {
    try {
      return parseEnvFile(readFileSync(f, 'utf8'), process.env);
    } catch (err) {
      throw bad('BAD_ENV_FILE', `cannot read the env file ${f}: ${(err as Error).message}.`, 'Check the path of --env-file.');
    }
  });
  const proc = processSpec(config, { cmd, ...(o.entrypoint !== undefined ? { entrypoint: o.entrypoint } : {}), ...(o.workdir !== undefined ? { workdir: o.workdir } : {}), env: o.env, fileEnv, tty: o.tty, unset: o.unsetenv ?? [] }, user, hostname, process.env);
  started.io?.onProcess?.({
    uid: user.uid,
    gid: user.gid,
    groups: user.groups,
    caps: o.privileged ? 'all' : capMask(caps),
    noNewPrivileges: security.noNewPrivileges,
    seccomp: security.seccomp && !o.privileged,
    path: proc.path,
    env: proc.env,
    cwd: proc.cwd,
    ...(config.StopSignal ? { stopSignal: config.StopSignal } : {}),
    ...(started.nproc !== undefined ? { nproc: started.nproc } : {}),
  });

  const { createNetwork } = await networking;
  const network: NetworkAttachment = await createNetwork({
    mode,
    publish,
    publishAll: o.publishAll,
    exposedPorts: Object.keys(config.ExposedPorts ?? {}),
    hostname,
    ...(started.network.launch ? { launch: started.network.launch } : {}),
    ...(o.runtimeDir !== undefined ? { runtimeDir: o.runtimeDir } : {}),
  });

  lap('network');
  const supervision = {
    network: o.publishAll || started.chosen ? announcing(network, say) : network,
    ...(limits ? { onPid: (pid: number) => limits.join(pid) } : {}),
    onRootfsKind: (k: string) => {
      if (o.verbose) say(`flux: rootfs: ${k === 'overlay' ? 'native overlayfs' : k === 'fuse' ? 'fuse-overlayfs' : 'copy'}\n`);
    },
    onWarning: (t: string) => say(`flux: warning: ${escapeText(t)}\n`),
  };
  await cleanStaleRuns(store.runsDir);
  const diffIds = record ? record.layers.map((l) => l.diffId) : [];
  claimRunDir(rd, diffIds);
  let again: ReturnType<typeof makeRunDir> | undefined;
  let timer: RunTimer | undefined;
  try {
    // The helper may be waiting already: the network is wired while the rest is prepared.
    sandbox.connect(supervision);
    // The run dir now names these layers, so garbage collection keeps them from here on; one
    // removed before that is gone for good.
    for (const l of record ? lowers : []) {
      if (!existsSync(l)) {
        throw bad('LAYER_REMOVED', `the image ${record!.reference} lost its unpacked layers while the run was starting (flux rmi or flux prune ran).`, `Pull it again: flux pull ${image}.`);
      }
    }
    const etcFiles: ContainerSpec['etcFiles'] = [];
    const put = (name: string, content: string | undefined, hostFile: string) => {
      let text = content;
      if (text === undefined) {
        try {
          text = readFileSync(hostFile, 'utf8');
        } catch {
          text = '';
        }
      }
      // The plan's tokens end at NUL; no text file of these holds one.
      etcFiles.push({ path: `/etc/${name}`, content: text.replaceAll('\0', '') });
    };
    put('resolv.conf', resolvConf(network.resolvConf ?? readHostFile('/etc/resolv.conf'), { dns: o.dns ?? [], search: o.dnsSearch ?? [], options: o.dnsOption ?? [] }), '/etc/resolv.conf');
    const baseHosts = network.newNamespace
      ? (network.hosts ?? `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`)
      : (network.hosts ?? readHostFile('/etc/hosts'));
    put('hosts', containerHosts(baseHosts, {
      hostname,
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(network.hostGateway ? { gateway: network.hostGateway } : {}),
      addHosts: o.addHost ?? [],
    }), '/etc/hosts');
    put('hostname', `${hostname}\n`, '/etc/hostname');
    // keep-id: the kept user gets a name in the image's /etc/passwd and /etc/group, as with podman.
    if (keep) for (const f of keepIdEtcFiles(keep, maps!.user.name, lowers)) etcFiles.push(f);
    etcFiles.push({
      path: '/run/.containerenv',
      content: containerEnvFile({
        name: o.name ?? id.slice(0, 12),
        id,
        image: record ? record.reference : (image as { rootfs: string }).rootfs,
        imageId: record ? record.configDigest.replace(/^sha256:/, '') : '',
        rootless: !isRealRoot(),
      }).replaceAll('\0', ''),
    });

    const tty = o.tty
      ? { stdin: o.interactive, rows: process.stdout.rows ?? 0, cols: process.stdout.columns ?? 0 }
      : undefined;

    if (maps?.single) warnSingleMap(maps.user.name, say);
    const spec = (rootfs: RootfsSpec): ContainerSpec => ({
      fullMap: maps ? !maps.single : true,
      rootfs,
      hostname,
      etcFiles,
      volumes,
      tmpfs,
      readOnly: o.readOnly,
      privileged: o.privileged,
      caps,
      noNewPrivileges: security.noNewPrivileges,
      seccomp: security.seccomp,
      uid: user.uid,
      gid: user.gid,
      groups: user.groups,
      ...(rlimits.length > 0 ? { rlimits } : {}),
      cwd: proc.cwd,
      env: proc.env,
      argv: proc.argv,
      path: proc.path,
      ...(tty ? { tty } : {}),
      ...(o.containerId === undefined ? { cleanup: rd.dir } : {}),
    });
    lap('prepared');
    let stopWith = started.stopSignal ?? 'SIGTERM';
    if (!started.stopSignal && config.StopSignal) {
      try {
        stopWith = parseSignal(config.StopSignal, 'StopSignal');
      } catch {
        // An image's odd StopSignal leaves the default.
      }
    }
    // A detached container's monitor keeps the time itself (it outlives this flux).
    timer = o.timeout !== undefined && !io?.monitor ? startTimeout(o.timeout, stopWith, (sig) => sandbox.signal(sig)) : undefined;
    let result;
    if (choice === 'copy') {
      result = await meanwhile(sandbox.run(spec(await prepareCopy(rd, lowers)), supervision));
    } else {
      const overlay = keep ? keepIdOverlay(rd, lowers) : overlaySpec(choice, rd, lowers);
      if (keep && overlay.kind === 'overlay' && overlay.fuse) overlay.fuse.maps = { uid: keepIdFuseMapping(keep.uid, maps!.uidRanges), gid: keepIdFuseMapping(keep.gid, maps!.gidRanges) };
      result = await meanwhile(sandbox.run(spec(overlay), supervision));
      const refused = result.setupError && result.rootfsKind === undefined && /mount (overlay|fuse)/.test(result.setupError.message);
      // A keep-id run has no copy to fall back to: a copy would show the layers' files with other owners.
      if (refused && choice === 'auto' && !keep) {
        // The copy runs under a second helper that flux would have to stay with: not a monitor.
        if (io?.monitor) throw bad('NO_OVERLAY', `a detached container needs an overlay, and this system refused it (${escapeText(result.setupError!.message)}).`, 'Install fuse-overlayfs, or run it without -d.');
        if (o.verbose) say(`flux: ${escapeText(result.setupError!.message)} Falling back to a copy of the layers.\n`);
        // A container's writable layer is the copy's from here on (its first run dir stays: it
        // names the container's state, and goes with the container).
        again = makeRunDir(store.runsDir, diffIds, o.containerId !== undefined ? containerRunName(o.containerId, true) : undefined);
        // A fresh helper, and the network wired by Node this time (the first helper took its slirp4netns along).
        const { netHelper: _first, runDir: _made, ...fresh } = namespaces;
        const waitGo = fresh.waitGo === true || namespaces.netHelper !== undefined;
        const copied = spec(await prepareCopy(again, lowers));
        result = await runSandbox({ ...fresh, waitGo, ...copied, ...(o.containerId === undefined ? { cleanup: again.dir } : {}) }, { ...supervision, ...launch });
      }
    }
    if (result.running && io?.onRunning) {
      const net = network.handOver?.();
      const member = started.userNet ? await started.userNet.handOver({ pid: sandbox.pid, start: (await import('./container-proc.js')).startTime(sandbox.pid) ?? 0 }) : undefined;
      io.onRunning(sandbox.pid, { files: net?.files ?? [], pidFiles: net?.pidFiles ?? [], ...(member ? { network: member } : {}), cgroups: limits?.dirs ?? [], published: network.published() });
      sandbox.letGo(true);
      started.handed.done = true;
      return 0;
    }
    lap('sandbox done');
    timer?.clear();
    if (timer?.fired() && !result.setupError) {
      say(`flux: the run was stopped after ${o.timeout} s (--timeout); exit code ${TIMEOUT_EXIT}.\n`);
      return TIMEOUT_EXIT;
    }
    if (result.setupError) {
      if (result.setupError.code === 'EXEC_NOT_FOUND' || result.setupError.code === 'EXEC_DENIED') throw result.setupError;
      throw new FluxError(result.setupError.code, result.setupError.message, {
        ...(result.setupError.hint ? { hint: result.setupError.hint } : {}),
        exitCode: 125,
      });
    }
    return result.code;
  } finally {
    timer?.clear();
    if (!started.handed.done) await endImage();
  }

  async function endImage(): Promise<void> {
    // A run that failed before its container started leaves the helper waiting, maybe wired.
    await sandbox.cancel();
    await network.detach();
    lap('network down');
    await limits?.remove();
    if (again && o.containerId === undefined && existsSync(again.dir)) await removeTree([again.dir]);
  }
}
