/**
 * What this machine offers flux, probed without starting a sandbox: `flux info`. Each piece a
 * run may need is reported with what was found and, when it is missing, one line that fixes
 * it. Only reads (and one `unshare --user true`, the one true test of user namespaces).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { arch, release } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../executables.js';
import { currentUser, parseSubIds, subIdHint, type SubRange } from '../userns/idmap.js';
import { isRealRoot } from '../userns/userns.js';
import { overlayChoice } from '../sandbox/rootfs.js';

export interface Missing {
  /** What is missing, e.g. `slirp4netns`. */
  what: string;
  /** What it stops working. */
  effect: string;
  /** One line that fixes it. */
  fix: string;
}

export interface HostProbe {
  kernel: { release: string; arch: string };
  user: { name: string; uid: number; gid: number; realRoot: boolean };
  userNamespaces: { allowed: boolean; reason: string | null };
  subuid: SubRange[];
  subgid: SubRange[];
  newuidmap: string | null;
  newgidmap: string | null;
  overlay: { setting: string; nativeInUserNamespace: boolean; fuseOverlayfs: string | null; devFuse: boolean; used: 'native' | 'fuse' | 'copy' };
  network: { slirp4netns: string | null; pasta: string | null; devNetTun: boolean; default: string };
  cgroup: { version: 1 | 2 | null; path: string | null; delegated: boolean; controllers: string[]; limits: { memory: boolean; cpus: boolean; pidsLimit: boolean } };
  /** How `--pids-limit` is held here: a cgroup's pids controller, else (rootless) RLIMIT_NPROC in the user namespace, else not at all. */
  pidsLimit: 'cgroup' | 'rlimit' | null;
  missing: Missing[];
}

const ID_TOOL_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function sysctl(name: string): string | undefined {
  return readText(join('/proc/sys', ...name.split('.')))?.trim();
}

function executableIn(dirs: string[], name: string): string | null {
  for (const d of dirs) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {
      // next
    }
  }
  return null;
}

function openable(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

/** The sysctls that forbid unprivileged user namespaces, then a real attempt where unshare exists. */
function userNamespaces(): { allowed: boolean; reason: string | null; fix: string } {
  if (sysctl('kernel.unprivileged_userns_clone') === '0') {
    return { allowed: false, reason: 'kernel.unprivileged_userns_clone is 0', fix: 'sudo sysctl -w kernel.unprivileged_userns_clone=1' };
  }
  if (sysctl('user.max_user_namespaces') === '0') {
    return { allowed: false, reason: 'user.max_user_namespaces is 0', fix: 'sudo sysctl -w user.max_user_namespaces=15000' };
  }
  const apparmor = sysctl('kernel.apparmor_restrict_unprivileged_userns') === '1';
  const unshare = findExecutable('unshare');
  if (unshare) {
    const r = spawnSync(unshare, ['--user', 'true'], { stdio: 'ignore', timeout: 5000 });
    if (r.status !== 0) {
      return apparmor
        ? { allowed: false, reason: 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)', fix: 'sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile for flux)' }
        : { allowed: false, reason: 'the kernel refused to create a user namespace (unshare --user failed)', fix: 'allow unprivileged user namespaces in the kernel (CONFIG_USER_NS) and its sysctls' };
    }
  }
  return { allowed: true, reason: null, fix: '' };
}

/** Native overlay inside a user namespace needs Linux 5.11 (userxattr) and overlay in the kernel. */
function nativeOverlay(): boolean {
  const [maj, min] = release().split('.').map((n) => parseInt(n, 10));
  const recent = maj! > 5 || (maj === 5 && min! >= 11);
  const fs = readText('/proc/filesystems') ?? '';
  // A module not yet loaded is not listed; the kernel loads it on the first mount.
  return recent && (/\toverlay$/m.test(fs) || existsSync(`/lib/modules/${release()}/kernel/fs/overlayfs`));
}

function cgroup(): HostProbe['cgroup'] {
  const none = { memory: false, cpus: false, pidsLimit: false };
  const writable = (p: string): boolean => {
    try {
      accessSync(p, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const own = /^0::(.*)$/m.exec(readText('/proc/self/cgroup') ?? '')?.[1];
    if (own === undefined) return { version: 2, path: null, delegated: false, controllers: [], limits: none };
    const path = join('/sys/fs/cgroup', own);
    const sub = (readText(join(path, 'cgroup.subtree_control')) ?? '').split(/\s+/).filter(Boolean);
    const delegated = writable(path);
    const has = (c: string): boolean => delegated && sub.includes(c);
    return { version: 2, path, delegated, controllers: sub, limits: { memory: has('memory'), cpus: has('cpu'), pidsLimit: has('pids') } };
  }
  if (!existsSync('/sys/fs/cgroup')) return { version: null, path: null, delegated: false, controllers: [], limits: none };
  const can = (c: string): boolean => writable(join('/sys/fs/cgroup', c));
  const controllers = ['memory', 'cpu', 'pids'].filter(can);
  return { version: 1, path: '/sys/fs/cgroup', delegated: controllers.length > 0, controllers, limits: { memory: can('memory'), cpus: can('cpu'), pidsLimit: can('pids') } };
}

export function probeHost(): HostProbe {
  const u = currentUser();
  const realRoot = isRealRoot();
  const missing: Missing[] = [];
  const userns = realRoot ? { allowed: true, reason: null, fix: '' } : userNamespaces();
  if (!userns.allowed) missing.push({ what: 'user namespaces', effect: `${userns.reason}: no run can start`, fix: userns.fix });

  const subuid = parseSubIds(readText('/etc/subuid') ?? '', u);
  const subgid = parseSubIds(readText('/etc/subgid') ?? '', u);
  if (!realRoot && (subuid.length === 0 || subgid.length === 0)) {
    missing.push({ what: `subordinate ids for ${u.name}`, effect: 'only root exists in a container; images that own files as other users fail to unpack', fix: subIdHint(u.name) });
  }
  const newuidmap = executableIn(ID_TOOL_DIRS, 'newuidmap');
  const newgidmap = executableIn(ID_TOOL_DIRS, 'newgidmap');
  if (!realRoot && (!newuidmap || !newgidmap)) {
    missing.push({ what: 'newuidmap/newgidmap', effect: 'the subordinate ids cannot be mapped', fix: 'sudo apt-get install uidmap (Debian/Ubuntu) or sudo dnf install shadow-utils' });
  }

  const setting = overlayChoice();
  const native = nativeOverlay();
  const fuse = findExecutable('fuse-overlayfs', ['/usr/bin', '/usr/local/bin']) ?? null;
  const devFuse = openable('/dev/fuse');
  // FLUX_OVERLAY forces a kind; auto takes the first that works, as a run does.
  const used = setting !== 'auto' ? setting : native ? 'native' : fuse && devFuse ? 'fuse' : 'copy';
  if (!native && !(fuse && devFuse)) {
    missing.push({ what: 'an overlay file system', effect: 'each run copies the image instead (slower, uses disk)', fix: fuse ? 'sudo chmod 0666 /dev/fuse (or install the fuse package\'s udev rules)' : 'sudo apt-get install fuse-overlayfs, or a kernel 5.11 or later' });
  }

  const slirp = findExecutable('slirp4netns') ?? null;
  const pasta = findExecutable('pasta') ?? null;
  const tun = openable('/dev/net/tun');
  if (!slirp) missing.push({ what: 'slirp4netns', effect: 'the default network (--network slirp4netns) and -p do not work', fix: 'sudo apt-get install slirp4netns, or run with --network pasta|none' });
  if (!pasta) missing.push({ what: 'pasta', effect: '--network pasta does not work', fix: 'sudo apt-get install passt' });
  if ((slirp || pasta) && !tun) missing.push({ what: '/dev/net/tun', effect: 'slirp4netns and pasta cannot create their tap device', fix: 'sudo modprobe tun && sudo chmod 0666 /dev/net/tun' });

  const cg = cgroup();
  // Without a cgroup, a rootless run holds --pids-limit with RLIMIT_NPROC (sandbox/pids-rlimit.ts).
  const pidsLimit = cg.limits.pidsLimit ? 'cgroup' : realRoot ? null : 'rlimit';
  if (!cg.limits.memory || !cg.limits.cpus || pidsLimit === null) {
    const off = [!cg.limits.memory && '--memory', !cg.limits.cpus && '--cpus', pidsLimit === null && '--pids-limit'].filter(Boolean).join(', ');
    missing.push({ what: 'a delegated cgroup', effect: `${off} cannot be applied`, fix: 'systemd-run --user --scope -p Delegate=yes flux … (cgroup v2 with delegation)' });
  }

  return {
    kernel: { release: release(), arch: arch() },
    user: { name: u.name, uid: u.uid, gid: u.gid, realRoot },
    userNamespaces: { allowed: userns.allowed, reason: userns.reason },
    subuid,
    subgid,
    newuidmap,
    newgidmap,
    overlay: { setting, nativeInUserNamespace: native, fuseOverlayfs: fuse, devFuse, used },
    network: { slirp4netns: slirp, pasta, devNetTun: tun, default: 'slirp4netns' },
    cgroup: cg,
    pidsLimit,
    missing,
  };
}
