/** A foreground run: find (or pull) the image, turn its config and the options into a sandbox, run it. */
import { accessSync, constants, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { FluxError } from '../errors.js';
import { escapeText } from '../escape.js';
import { lap } from '../sandbox/timing.js';
import { Store } from '../../store/store.js';
import type { ImageRecord } from '../../store/image-index.js';
import { parseGroup, parsePasswd, resolveUser } from '../image/user.js';
import { capMask, capSet } from '../sandbox/caps.js';
import { idMapsFor, mappedCount, mapArgs, toolPath, type IdMaps } from '../userns/idmap.js';
import { readLayerFile } from '../sandbox/layer-files.js';
import type { ContainerSpec, NamespaceSpec, RootfsSpec, VolumeSpec } from '../sandbox/plan.js';
import { claimRunDir, cleanStaleRuns, makeRunDir, planRunDir, randomHex, overlayChoice, overlaySpec, prepareCopy, removeTree, type RunDir } from '../sandbox/rootfs.js';
import { runSandbox, startSandbox, type LaunchOptions, type Sandbox } from '../sandbox/supervisor.js';
import { isRealRoot, warnSingleMap } from '../userns/userns.js';
import type { NetworkAttachment, PortForward } from '../sandbox/network-types.js';
import type { Limits } from '../sandbox/limits.js';
import { commandLine, parseEnvFile, parseSecurityOpts, parseVolume, processSpec } from './process-spec.js';

export interface RunOptions {
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  volume: string[];
  tmpfs: string[];
  readOnly: boolean;
  name?: string;
  interactive: boolean;
  tty: boolean;
  network?: string;
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
}

/** Where a run's output and flux's own messages go when not the host's (a matrix runs many at once). */
export interface RunIO {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** Receives a way to signal the sandbox; the host's signals are then not forwarded to it. */
  onSpawn?(kill: (sig: NodeJS.Signals) => void, helperPid?: number): void;
  /** The command has started (its exec succeeded). */
  onStarted?(): void;
  /** flux's own notices and warnings; without it they go where the run's stderr goes. */
  say?(text: string): void;
  /** The command's process settings, as `flux exec` needs them to start another like it. */
  onProcess?(p: ProcessProfile): void;
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
    uid: [toolPath('newuidmap'), 'PID', ...mapArgs(m.user.uid, m.uidRanges)],
    gid: [toolPath('newgidmap'), 'PID', ...mapArgs(m.user.gid, m.gidRanges)],
  };
}

/** With -P the host ports are flux's choice: say which, once they are set up. */
function announcing(network: NetworkAttachment, say: (text: string) => void): NetworkAttachment {
  return {
    newNamespace: network.newNamespace,
    resolvConf: network.resolvConf,
    hosts: network.hosts,
    ...(network.tapDevice ? { tapDevice: network.tapDevice } : {}),
    attach: async (pid: number) => {
      await network.attach(pid);
      for (const f of network.published()) say(`flux: published ${f.hostIp}:${f.hostPort} -> ${f.containerPort}/${f.protocol}\n`);
    },
    published: () => network.published(),
    detach: () => network.detach(),
  };
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
  for (const t of o.tmpfs) if (!t.startsWith('/')) throw bad('BAD_TMPFS', `--tmpfs ${t} is not an absolute path.`, 'Write --tmpfs /path.');
  const choice = overlayChoice();
  // cgroup code only when a limit is asked for.
  const limits = Object.values(o.limits).some((v) => v !== undefined) ? (await import('../sandbox/limits.js')).checkLimits(o.limits) : undefined;

  const root = isRealRoot();
  const maps = root ? undefined : idMapsFor();
  // --network container:NAME joins that container's namespaces: no network of its own to make.
  const join = o.network?.startsWith('container:') ? await joinTarget(o.network.slice('container:'.length), o) : undefined;
  const mode = join !== undefined ? 'host' : (o.network ?? 'slirp4netns');
  const { parsePublishAll, planNetwork } = await networking;
  // Network first: a bad -p or mode is refused before anything touches the disk.
  const publish: PortForward[] = o.publish.flatMap((p) => parsePublishAll(p));
  const needs = await planNetwork(mode, publish, o.publishAll, o.runtimeDir);
  lap('modules');

  const store = Store.open(o.store);
  const rd = planRunDir(store.runsDir);
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
    interactive: o.interactive,
    ...(io ? { output: io, ...(io.onSpawn ? { onSpawn: (kill: (sig: NodeJS.Signals) => void, pid?: number) => io.onSpawn?.(kill, pid), onStarted: () => io.onStarted?.() } : {}) } : {}),
  };
  const sandbox = startSandbox(namespaces, launch);
  try {
    return await runImage({ io, image, cmd, o, say, resolver, networking, security, caps, volumes, choice, limits, maps, mode, publish, network: needs, namespaces, launch, sandbox, store, rd });
  } finally {
    await sandbox.cancel();
    needs.launch?.release();
    await sandbox.cleanedUp();
    // The helper removes the run dir when the run ends; one refused earlier, or a helper that
    // died, leaves it (with the image's sub-uid files, only removable in the user namespace).
    if (existsSync(rd.dir)) {
      try {
        rmSync(rd.dir, { recursive: true, force: true });
      } catch {
        await removeTree([rd.dir]);
      }
    }
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
  volumes: VolumeSpec[];
  choice: ReturnType<typeof overlayChoice>;
  limits: Awaited<ReturnType<typeof import('../sandbox/limits.js').checkLimits>> | undefined;
  maps: IdMaps | undefined;
  mode: string;
  publish: PortForward[];
  network: import('../sandbox/network.js').NetworkPlan;
  namespaces: NamespaceSpec;
  launch: LaunchOptions;
  sandbox: Sandbox;
  store: Store;
  /** Chosen, not yet made: the helper and claimRunDir make it. */
  rd: RunDir;
}

/** Reads the image, prepares the root and hands the container to the waiting helper. */
async function runImage(started: Started): Promise<number> {
  const { image, cmd, o, say, resolver, networking, security, caps, volumes, choice, limits, maps, mode, publish, namespaces, launch, sandbox, store, rd } = started;
  // A root filesystem directory is a single read-only layer with no image config.
  const record = typeof image === 'string' ? await findRecord(image, o, store, say, resolver) : undefined;
  lap('image');
  const config = record?.config.config ?? {};
  const argv = commandLine(config, cmd, o.entrypoint);
  if (argv.length === 0) {
    if (!record) throw bad('NO_COMMAND', 'no command given, and a root filesystem directory has no Entrypoint or Cmd.', 'Name one after --: flux run --rootfs DIR -- sh.');
    throw bad('NO_COMMAND', `no command given and the image ${record.reference} has no Entrypoint or Cmd.`, `Name one: flux run ${image as string} -- sh.`);
  }
  const lowers = record ? record.layers.map((l) => store.layerPath(l.diffId)).reverse() : [(image as { rootfs: string }).rootfs];
  if (lowers.length === 0) throw bad('NO_LAYERS', `the image ${record!.reference} has no layers.`, 'Pull a complete image.');

  const passwd = parsePasswd(readLayerFile(lowers, 'etc/passwd') ?? '');
  const group = parseGroup(readLayerFile(lowers, 'etc/group') ?? '');
  const user = resolveUser(o.user ?? config.User, passwd, group);
  if (maps) {
    const max = maps.single ? 1 : Math.min(mappedCount(maps.uidRanges), mappedCount(maps.gidRanges));
    const high = Math.max(user.uid, user.gid, ...user.groups);
    if (high >= max) {
      throw bad('ID_NOT_MAPPED', `the image's user ${o.user ?? config.User} (id ${high}) lies outside the ${max} ids mapped for you.`,
        maps.single ? `Give yourself subordinate ids: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${maps.user.name}` : 'Enlarge your range in /etc/subuid and /etc/subgid.');
    }
    if (maps.single) user.groups = [];
  }

  const hostname = o.hostname ?? randomHex(6);
  const fileEnv = o.envFile.flatMap((f) => {
    try {
      return parseEnvFile(readFileSync(f, 'utf8'), process.env);
    } catch (err) {
      throw bad('BAD_ENV_FILE', `cannot read the env file ${f}: ${(err as Error).message}.`, 'Check the path of --env-file.');
    }
  });
  const proc = processSpec(config, { cmd, ...(o.entrypoint !== undefined ? { entrypoint: o.entrypoint } : {}), ...(o.workdir !== undefined ? { workdir: o.workdir } : {}), env: o.env, fileEnv, tty: o.tty }, user, hostname, process.env);
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
    network: o.publishAll ? announcing(network, say) : network,
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
    put('resolv.conf', network.resolvConf, '/etc/resolv.conf');
    put('hosts', network.hosts ?? `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`, '/etc/hosts');
    put('hostname', `${hostname}\n`, '/etc/hostname');

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
      tmpfs: o.tmpfs,
      readOnly: o.readOnly,
      privileged: o.privileged,
      caps,
      noNewPrivileges: security.noNewPrivileges,
      seccomp: security.seccomp,
      uid: user.uid,
      gid: user.gid,
      groups: user.groups,
      cwd: proc.cwd,
      env: proc.env,
      argv: proc.argv,
      path: proc.path,
      ...(tty ? { tty } : {}),
      cleanup: rd.dir,
    });
    lap('prepared');
    let result;
    if (choice === 'copy') {
      result = await sandbox.run(spec(await prepareCopy(rd, lowers)), supervision);
    } else {
      result = await sandbox.run(spec(overlaySpec(choice, rd, lowers)), supervision);
      const refused = result.setupError && result.rootfsKind === undefined && /mount (overlay|fuse)/.test(result.setupError.message);
      if (refused && choice === 'auto') {
        if (o.verbose) say(`flux: ${escapeText(result.setupError!.message)} Falling back to a copy of the layers.\n`);
        again = makeRunDir(store.runsDir, diffIds);
        // A fresh helper, and the network wired by Node this time (the first helper took its slirp4netns along).
        const { netHelper: _first, runDir: _made, ...fresh } = namespaces;
        const waitGo = fresh.waitGo === true || namespaces.netHelper !== undefined;
        result = await runSandbox({ ...fresh, waitGo, ...spec(await prepareCopy(again, lowers)), cleanup: again.dir }, { ...supervision, ...launch });
      }
    }
    lap('sandbox done');
    if (result.setupError) {
      if (result.setupError.code === 'EXEC_NOT_FOUND' || result.setupError.code === 'EXEC_DENIED') throw result.setupError;
      throw new FluxError(result.setupError.code, result.setupError.message, {
        ...(result.setupError.hint ? { hint: result.setupError.hint } : {}),
        exitCode: 125,
      });
    }
    return result.code;
  } finally {
    // A run that failed before its container started leaves the helper waiting, maybe wired.
    await sandbox.cancel();
    await network.detach();
    lap('network down');
    await limits?.remove();
    if (again && existsSync(again.dir)) await removeTree([again.dir]);
  }
}
