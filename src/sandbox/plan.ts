/**
 * The sandbox as data: the list of setup operations the native helper executes in order
 * (bubblewrap's model). Pure: no I/O, so it is unit-tested as a value.
 */
import { capMask } from './caps.js';

export type RootfsSpec =
  | {
      kind: 'overlay';
      root: string;
      upper: string;
      work: string;
      /** Unpacked layers, topmost first (overlayfs' lowerdir order). */
      lowers: string[];
      userxattr: boolean;
      /** fuse-overlayfs: the fallback when native overlay is refused, or the only choice. */
      fuse?: { bin: string; only: boolean; maps?: { uid: string; gid: string } };
    }
  | { kind: 'copy'; src: string; root: string };

export interface VolumeSpec {
  host: string;
  container: string;
  readOnly: boolean;
}

/** A tmpfs mount: its file-system options (mode=, size=) and whether it is read-only or noexec; always nosuid, nodev. */
export interface TmpfsSpec {
  path: string;
  options: string;
  readOnly?: boolean;
  noexec?: boolean;
}

/** A resource limit for the command (--ulimit): the kernel's resource number; 2^64-1 is unlimited. */
export interface RlimitSpec {
  resource: number;
  soft: bigint;
  hard: bigint;
}

/** What the helper needs first, to create the namespaces and map the ids (known before the image is read). */
export interface NamespaceSpec {
  userns: boolean;
  newNet: boolean;
  /**
   * Id maps the helper writes itself: newuidmap/newgidmap argv (argv[1] is replaced by its pid),
   * or a single-id map. Absent: Node writes them during the handshake.
   */
  idmap?: { kind: 'full'; uid: string[]; gid: string[] } | { kind: 'single'; uid: number; gid: number };
  /** Node must act (network, cgroup) after the namespaces exist and before the command starts. */
  waitGo?: boolean;
  /**
   * Node's part concerns only the command (the network), not the namespaces: the helper assembles
   * the root meanwhile and waits for the go just before starting the command.
   */
  deferGo?: boolean;
  /** A persistent tap device the helper creates in the new network namespace (slirp4netns attaches to it). */
  tap?: string;
  /**
   * A network helper (slirp4netns) the helper starts itself once the namespaces and the tap exist;
   * PID in it stands for the helper's pid. Its readiness and stderr come to Node on fds 4 and 5.
   */
  netHelper?: string[];
  /** The run dir whose upper/, work/ and root/ the helper makes once the ids are mapped. */
  runDir?: string;
  /** --preserve-fds: the helper's fds from `first` on (Node's extra stdio) become the command's 3…3+count-1. */
  preserveFds?: { first: number; count: number };
  /** Join this process's user and network namespaces instead of making them (--network container:NAME). */
  join?: number;
}

/** The container itself: its root, mounts, user and command. */
export interface ContainerSpec {
  /** The full subordinate map exists (groups such as tty=5 are mapped). */
  fullMap: boolean;
  rootfs: RootfsSpec;
  hostname: string;
  /** Files put over /etc/resolv.conf, /etc/hosts, /etc/hostname (the helper keeps them in memory). */
  etcFiles: { path: string; content: string }[];
  volumes: VolumeSpec[];
  tmpfs: TmpfsSpec[];
  readOnly: boolean;
  privileged: boolean;
  caps: Set<string>;
  noNewPrivileges: boolean;
  /** The default seccomp deny list (off with --privileged or seccomp=unconfined). */
  seccomp?: boolean;
  uid: number;
  gid: number;
  groups: number[];
  rlimits?: RlimitSpec[];
  cwd: string;
  env: string[];
  argv: string[];
  path: string;
  tty?: { stdin: boolean; rows: number; cols: number };
  /** Removed by the helper (inside the user namespace) when the run ends. */
  cleanup?: string;
}

export type SandboxSpec = NamespaceSpec & ContainerSpec;

/** OCI/podman default masked paths: read as empty (files: /dev/null; dirs: empty read-only tmpfs). */
export const MASKED_PATHS = [
  '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/proc/interrupts', '/sys/firmware', '/sys/fs/selinux', '/sys/dev/block',
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

type Op = string[];

/**
 * Every operation of the plan, by its part: the first comes as the helper's arguments, before the
 * namespaces exist; the second on the control socket, after. The helper's parser has the same
 * table (native/plan.c, `flux-helper --list-ops`); test/unit/helper-op-table.test.ts holds the two
 * together. The plans below are typed against these lists, so they cannot emit another name.
 */
export const NAMESPACE_OPERATIONS = ['ns', 'maps', 'single-map', 'wait', 'defer-go', 'tap', 'net-helper', 'run-dir', 'preserve-fds', 'join'] as const;
export const CONTAINER_OPERATIONS = [
  'overlay', 'fuse', 'fuse-maps', 'bindroot', 'mount', 'readonly', 'hostname', 'cwd', 'user', 'caps', 'nnp', 'rlimits', 'tty',
  'env', 'argv', 'path', 'seccomp', 'cleanup',
] as const;
type NamespaceOp = [(typeof NAMESPACE_OPERATIONS)[number], ...string[]];
type ContainerOp = [(typeof CONTAINER_OPERATIONS)[number], ...string[]];

function mount(kind: string, a: string, b = '', c = ''): ContainerOp {
  return ['mount', kind, a, b, c];
}

/** The first part of the plan (the helper's arguments): namespaces, id maps, handshake. */
export function namespacePlan(s: NamespaceSpec): Op[] {
  const ops: NamespaceOp[] = [];
  const ns = ['mnt', 'uts', 'ipc', 'cgroup'];
  if (s.userns) ns.push('user');
  if (s.newNet) ns.push('net');
  ops.push(['ns', ns.join(',')]);
  if (s.userns && s.idmap?.kind === 'full') ops.push(['maps', String(s.idmap.uid.length), ...s.idmap.uid, String(s.idmap.gid.length), ...s.idmap.gid]);
  if (s.userns && s.idmap?.kind === 'single') ops.push(['single-map', String(s.idmap.uid), String(s.idmap.gid)]);
  if (s.waitGo) ops.push(['wait']);
  if (s.waitGo && s.deferGo) ops.push(['defer-go']);
  if (s.newNet && s.tap) ops.push(['tap', s.tap]);
  if (s.newNet && s.netHelper) ops.push(['net-helper', String(s.netHelper.length), ...s.netHelper]);
  if (s.runDir) ops.push(['run-dir', s.runDir]);
  if (s.preserveFds && s.preserveFds.count > 0) ops.push(['preserve-fds', String(s.preserveFds.first), String(s.preserveFds.count)]);
  if (s.join !== undefined) ops.push(['join', String(s.join)]);
  return ops;
}

/** The second part (sent on the control socket): the container inside the namespaces `ns` describes. */
export function containerPlan(ns: Pick<NamespaceSpec, 'userns'>, s: ContainerSpec): Op[] {
  const ops: ContainerOp[] = [];
  const r = s.rootfs;
  if (r.kind === 'overlay') {
    ops.push(['overlay', r.root, r.upper, r.work, r.userxattr ? '1' : '0', String(r.lowers.length), ...r.lowers]);
    if (r.fuse) ops.push(['fuse', r.fuse.bin, r.fuse.only ? '1' : '0']);
    if (r.fuse?.maps) ops.push(['fuse-maps', r.fuse.maps.uid, r.fuse.maps.gid]);
  } else {
    ops.push(['bindroot', r.src, r.root]);
  }

  ops.push(mount('proc', '/proc'));
  ops.push(mount('sysfs', '/sys'));
  ops.push(mount('tmpfs', '/dev', 'mode=755,size=65536k', 'nosuid,noexec'));
  for (const d of DEVICES) ops.push(mount('bind', `/dev/${d}`, `/dev/${d}`, 'file,optional'));
  ops.push(mount('devpts', '/dev/pts', `newinstance,ptmxmode=0666,mode=0620${s.fullMap || !ns.userns ? ',gid=5' : ''}`, 'nosuid,noexec'));
  ops.push(mount('symlink', 'pts/ptmx', '/dev/ptmx'));
  ops.push(mount('symlink', '/proc/self/fd', '/dev/fd'));
  ops.push(mount('symlink', '/proc/self/fd/0', '/dev/stdin'));
  ops.push(mount('symlink', '/proc/self/fd/1', '/dev/stdout'));
  ops.push(mount('symlink', '/proc/self/fd/2', '/dev/stderr'));
  ops.push(mount('tmpfs', '/dev/shm', 'mode=1777,size=65536k', 'nosuid,nodev,noexec'));
  ops.push(mount('mqueue', '/dev/mqueue', '', 'nosuid,nodev,noexec'));
  for (const f of s.etcFiles) ops.push(mount('content', f.content, f.path));
  for (const v of s.volumes) ops.push(mount('bind', v.host, v.container, v.readOnly ? 'rec,ro' : 'rec'));
  for (const t of s.tmpfs) ops.push(mount('tmpfs', t.path, t.options, ['nosuid', 'nodev', ...(t.readOnly ? ['ro'] : []), ...(t.noexec ? ['noexec'] : [])].join(',')));
  if (!s.privileged) {
    for (const p of MASKED_PATHS) ops.push(mount('mask', p));
    for (const p of READONLY_PATHS) ops.push(mount('ro', p));
  }
  if (s.readOnly) ops.push(['readonly']);

  ops.push(['hostname', s.hostname]);
  ops.push(['cwd', s.cwd]);
  if (s.rlimits?.length) ops.push(['rlimits', String(s.rlimits.length), ...s.rlimits.flatMap((r) => [String(r.resource), String(r.soft), String(r.hard)])]);
  ops.push(['user', String(s.uid), String(s.gid), String(s.groups.length), ...s.groups.map(String)]);
  ops.push(['caps', s.privileged ? 'all' : capMask(s.caps)]);
  if (s.noNewPrivileges) ops.push(['nnp']);
  if (s.seccomp && !s.privileged) ops.push(['seccomp']);
  if (s.tty) ops.push(['tty', s.tty.stdin ? '1' : '0', String(s.tty.rows), String(s.tty.cols)]);
  ops.push(['path', s.path]);
  ops.push(['env', String(s.env.length), ...s.env]);
  ops.push(['argv', String(s.argv.length), ...s.argv]);
  if (s.cleanup) ops.push(['cleanup', s.cleanup]);
  return ops;
}

/** `<length>\n` then every token NUL-terminated: trivial for C to split. */
export function encodePlan(ops: Op[]): Buffer {
  const tokens = ops.flat();
  for (const t of tokens) {
    if (t.includes('\0')) throw new Error(`plan token contains NUL: ${JSON.stringify(t)}`);
  }
  const body = `${tokens.join('\0')}\0`;
  return Buffer.from(`${Buffer.byteLength(body)}\n${body}`);
}
