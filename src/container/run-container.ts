/** `flux run`: find (or pull) the image, turn its config and the flags into a sandbox, run it. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join, posix, resolve as resolvePath } from 'node:path';
import { FluxError } from '../errors.js';
import { lap } from '../sandbox/timing.js';
import { Store } from '../../store/store.js';
import type { ImageRecord } from '../../store/image-index.js';
import { parseGroup, parsePasswd, resolveUser } from '../image/user.js';
import { capSet } from '../sandbox/caps.js';
import { idMapsFor, mappedCount, mapArgs, toolPath, type IdMaps } from '../userns/idmap.js';
import { readLayerFile } from '../sandbox/layer-files.js';
import type { ContainerSpec, NamespaceSpec, RootfsSpec, VolumeSpec } from '../sandbox/plan.js';
import { claimRunDir, cleanStaleRuns, makeRunDir, planRunDir, randomHex, overlayChoice, overlaySpec, prepareCopy, removeTree, type RunDir } from '../sandbox/rootfs.js';
import { runSandbox, startSandbox, type LaunchOptions, type Sandbox } from '../sandbox/run.js';
import { isRealRoot, warnSingleMap } from '../userns/userns.js';
import type { NetworkAttachment, PortForward } from '../sandbox/network-types.js';
import type { Limits } from '../sandbox/limits.js';

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
}

/** Where a run's output and flux's own messages go when not the host's (a matrix runs many at once). */
export interface RunIO {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** Receives a way to signal the sandbox; the host's signals are then not forwarded to it. */
  onSpawn?(kill: (sig: NodeJS.Signals) => void): void;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const bad = (code: string, message: string, hint: string) => new FluxError(code, message, { hint, exitCode: 125 });

/** docker's argv rule: --entrypoint replaces Entrypoint and drops the image's Cmd. */
export function commandLine(config: ImageRecord['config']['config'], cmd: string[], entrypoint: string | undefined): string[] {
  const c = config ?? {};
  let ep = c.Entrypoint ?? [];
  let args = cmd.length > 0 ? cmd : (c.Cmd ?? []);
  if (entrypoint !== undefined) {
    ep = entrypoint === '' ? [] : [entrypoint];
    if (cmd.length === 0) args = [];
  }
  return [...ep, ...args];
}

/** `K=V`, or bare `K` taking the host's value (dropped when the host has none). */
export function envEntry(raw: string, host: NodeJS.ProcessEnv): string | undefined {
  const eq = raw.indexOf('=');
  if (eq === 0) throw bad('BAD_ENV', `invalid environment variable "${raw}": the name is empty.`, 'Write -e NAME=VALUE or -e NAME.');
  if (eq > 0) return raw;
  const v = host[raw];
  return v === undefined ? undefined : `${raw}=${v}`;
}

export function parseEnvFile(text: string, host: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const l = line.replace(/\r$/, '');
    if (l.trim() === '' || l.trimStart().startsWith('#')) continue;
    const e = envEntry(l.trimStart(), host);
    if (e !== undefined) out.push(e);
  }
  return out;
}

/** Later entries win; order of first appearance is kept. */
export function mergeEnv(...lists: string[][]): string[] {
  const m = new Map<string, string>();
  for (const list of lists) {
    for (const e of list) {
      const eq = e.indexOf('=');
      const k = eq < 0 ? e : e.slice(0, eq);
      m.set(k, e);
    }
  }
  return [...m.values()];
}

export function parseVolume(spec: string, cwd = process.cwd()): VolumeSpec {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw bad('BAD_VOLUME', `invalid volume "${spec}".`, 'Write -v HOST_PATH:CONTAINER_PATH[:ro|rw].');
  }
  const [host, container, mode] = parts as [string, string, string | undefined];
  if (mode !== undefined && !/^(ro|rw)(,(ro|rw))*$/.test(mode)) {
    throw bad('BAD_VOLUME', `invalid volume mode "${mode}" in "${spec}".`, 'The mode is ro or rw.');
  }
  if (!isAbsolute(container)) throw bad('BAD_VOLUME', `the container path "${container}" in -v ${spec} is not absolute.`, 'Write it from /, e.g. -v ./data:/data.');
  if (!isAbsolute(host) && !host.startsWith('.')) {
    throw bad('BAD_VOLUME', `"${host}" in -v ${spec} is not a host path (named volumes are not supported).`, 'Give an absolute path or one starting with ./');
  }
  const abs = resolvePath(cwd, host);
  if (!existsSync(abs)) throw bad('BAD_VOLUME', `the host path ${abs} of -v ${spec} does not exist.`, 'Create it first, or fix the path.');
  return { host: abs, container: posix.normalize(container), readOnly: mode?.split(',').includes('ro') ?? false };
}

/** A working directory must be absolute and never a file-descriptor path (CVE-2024-21626). */
export function checkWorkdir(dir: string): string {
  if (!dir.startsWith('/')) throw bad('BAD_WORKDIR', `the working directory "${dir}" is not absolute.`, 'Give -w an absolute path inside the container.');
  const n = posix.normalize(dir);
  if (/^\/proc\/(self|thread-self|\d+)(\/task\/\d+)?\/fd(\/|$)/.test(n) || /^\/proc\/(self|thread-self|\d+)\/cwd(\/|$)/.test(n)) {
    throw bad('BAD_WORKDIR', `the working directory ${dir} is a file-descriptor path, which could lead outside the container.`, 'Use a real directory of the image.');
  }
  return n;
}

async function findRecord(image: string, o: RunOptions, store: Store, say: (text: string) => void, resolver = import('../pull/pull-image.js')): Promise<ImageRecord> {
  const { ensureImage } = await resolver;
  return ensureImage(image, {
    store,
    pull: o.pull,
    ...(o.platform ? { platform: o.platform } : {}),
    insecure: o.insecure,
    events: { notice: (m: string) => say(`flux: ${m}\n`) },
  });
}

export function parseSecurityOpts(list: string[]): { noNewPrivileges: boolean; seccomp: boolean } {
  let nnp = false;
  let seccomp = true;
  for (const s of list) {
    if (s === 'no-new-privileges' || s === 'no-new-privileges=true' || s === 'no-new-privileges:true') nnp = true;
    else if (s === 'no-new-privileges=false' || s === 'no-new-privileges:false') nnp = false;
    else if (s === 'seccomp=unconfined' || s === 'seccomp:unconfined') seccomp = false;
    else throw bad('BAD_SECURITY_OPT', `unsupported --security-opt "${s}".`, 'flux supports --security-opt no-new-privileges and seccomp=unconfined.');
  }
  return { noNewPrivileges: nnp, seccomp };
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

export async function runCommand(image: string, cmd: string[], o: RunOptions, io?: RunIO): Promise<number> {
  const say = io ? (text: string) => io.stderr(Buffer.from(text)) : (text: string) => void process.stderr.write(text);
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
  const mode = o.network ?? 'slirp4netns';
  const { parsePublishAll, planNetwork } = await networking;
  // Network first: a bad -p or mode is refused before anything touches the disk.
  const publish: PortForward[] = o.publish.flatMap((p) => parsePublishAll(p));
  const needs = await planNetwork(mode, publish, o.publishAll);
  lap('modules');

  const store = Store.open();
  const rd = planRunDir(store.runsDir);
  // The helper creates the namespaces, maps the ids and makes the run dir while the image is read below.
  const namespaces: NamespaceSpec = {
    runDir: rd.dir,
    ...(maps ? { idmap: helperMaps(maps) } : {}),
    waitGo: needs.wired || limits !== undefined,
    // A cgroup must be joined before the namespaces are complete; a network can be wired meanwhile.
    deferGo: limits === undefined,
    ...(needs.tapDevice ? { tap: needs.tapDevice } : {}),
    ...(needs.launch ? { netHelper: needs.launch.argv } : {}),
    userns: !root,
    newNet: needs.newNamespace,
  };
  const launch: LaunchOptions = {
    ...(maps ? { maps } : {}),
    interactive: o.interactive,
    ...(io ? { output: io, ...(io.onSpawn ? { onSpawn: (kill: (sig: NodeJS.Signals) => void) => io.onSpawn?.(kill) } : {}) } : {}),
  };
  const sandbox = startSandbox(namespaces, launch);
  try {
    return await runImage({ image, cmd, o, say, resolver, networking, security, caps, volumes, choice, limits, maps, mode, publish, network: needs, namespaces, launch, sandbox, store, rd });
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
  image: string;
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
  const record = await findRecord(image, o, store, say, resolver);
  lap('image');
  const config = record.config.config ?? {};
  const argv = commandLine(config, cmd, o.entrypoint);
  if (argv.length === 0) {
    throw bad('NO_COMMAND', `no command given and the image ${record.reference} has no Entrypoint or Cmd.`, `Name one: flux run ${image} -- sh.`);
  }
  const lowers = record.layers.map((l) => store.layerPath(l.diffId)).reverse();
  if (lowers.length === 0) throw bad('NO_LAYERS', `the image ${record.reference} has no layers.`, 'Pull a complete image.');

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

  const workdir = checkWorkdir(o.workdir ?? (config.WorkingDir || '/'));
  const hostname = o.hostname ?? randomHex(6);
  const fileEnv = o.envFile.flatMap((f) => {
    try {
      return parseEnvFile(readFileSync(f, 'utf8'), process.env);
    } catch (err) {
      throw bad('BAD_ENV_FILE', `cannot read the env file ${f}: ${(err as Error).message}.`, 'Check the path of --env-file.');
    }
  });
  const cliEnv = o.env.map((e) => envEntry(e, process.env)).filter((e): e is string => e !== undefined);
  const env = mergeEnv(
    [`PATH=${DEFAULT_PATH}`],
    config.Env ?? [],
    [`HOSTNAME=${hostname}`],
    (config.Env ?? []).some((e) => e.startsWith('HOME=')) ? [] : [`HOME=${user.home}`],
    o.tty ? [`TERM=${process.env.TERM && process.env.TERM !== 'dumb' ? process.env.TERM : 'xterm'}`] : [],
    fileEnv,
    cliEnv,
  );
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;

  const { createNetwork } = await networking;
  const network: NetworkAttachment = await createNetwork({
    mode,
    publish,
    publishAll: o.publishAll,
    exposedPorts: Object.keys(config.ExposedPorts ?? {}),
    hostname,
    ...(started.network.launch ? { launch: started.network.launch } : {}),
  });

  lap('network');
  const supervision = {
    network: o.publishAll ? announcing(network, say) : network,
    ...(limits ? { onPid: (pid: number) => limits.join(pid) } : {}),
    onRootfsKind: (k: string) => {
      if (o.verbose) say(`flux: rootfs: ${k === 'overlay' ? 'native overlayfs' : k === 'fuse' ? 'fuse-overlayfs' : 'copy'}\n`);
    },
    onWarning: (t: string) => say(`flux: warning: ${t}\n`),
  };
  await cleanStaleRuns(store.runsDir);
  const diffIds = record.layers.map((l) => l.diffId);
  claimRunDir(rd, diffIds);
  let again: ReturnType<typeof makeRunDir> | undefined;
  try {
    // The helper may be waiting already: the network is wired while the rest is prepared.
    sandbox.connect(supervision);
    // The run dir now names these layers, so garbage collection keeps them from here on; one
    // removed before that is gone for good.
    for (const l of lowers) {
      if (!existsSync(l)) {
        throw bad('LAYER_REMOVED', `the image ${record.reference} lost its unpacked layers while the run was starting (flux rmi or flux prune ran).`, `Pull it again: flux pull ${image}.`);
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

    if (maps?.single) warnSingleMap(maps.user.name);
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
      cwd: workdir,
      env,
      argv,
      path: pathVar,
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
        if (o.verbose) say(`flux: ${result.setupError!.message} Falling back to a copy of the layers.\n`);
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
