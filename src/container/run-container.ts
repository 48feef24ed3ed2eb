/** A foreground run: find (or pull) the image, turn its config and the options into a sandbox, run it. */
import { existsSync, rmSync } from 'node:fs';
import { lap } from '../timing.js';
import { Store } from '../../store/store.js';
import { capSet } from '../sandbox/caps.js';
import { toolPath, type IdMaps } from '../userns/idmap.js';
import { mapArgsFor } from '../userns/keep-id.js';
import type { NamespaceSpec } from '../sandbox/plan.js';
import { containerRunName } from '../container-runs.js';
import { planRunDir, overlayChoice, randomHex, removeTree } from '../sandbox/rootfs.js';
import { startSandbox, type LaunchOptions } from '../sandbox/supervisor.js';
import { isRealRoot } from '../userns/userns.js';
import type { PortForward } from '../sandbox/network-types.js';
import { parseSecurityOpts } from './process-spec.js';
import { checkDestinations, parseVolume } from './volume-options.js';
import { parseTmpfs } from './tmpfs-options.js';
import { parseMount } from './mount-flag.js';
import { timezoneVolume } from './timezone.js';
import { parseUlimit } from './ulimit.js';
import { parseSignal } from './stop-signal.js';
import { parseLabels } from './labels.js';
import { checkPreserveFds } from './preserve-fds.js';
import { checkContainerName, checkHostname } from './run-names.js';
import { checkTimeout } from './run-timeout.js';
import { bad } from './run-error.js';
import { runIdMaps } from './userns-option.js';
import { checkRootfs } from './run-target.js';
import { isNetworkMode, joinTarget, joinUserNetwork } from './join-network.js';
import { runImage } from './run-prepare.js';
import type { RunIO, RunOptions, RunTarget } from './run-types.js';

export type { HandedRun, ProcessProfile, RunIO, RunOptions, RunTarget } from './run-types.js';

/** What z/Z come to here: flux never relabels; without SELinux there is nothing to relabel. */
function relabelNote(mark: 'z' | 'Z'): string {
  return existsSync('/sys/fs/selinux/enforce')
    ? `option ${mark} accepted; flux does not relabel, the host's SELinux labels stay.`
    : `option ${mark} accepted; this host has no SELinux, so there is nothing to relabel.`;
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
  checkDestinations([...volumes.map((v) => v.container), ...tmpfs.map((t) => t.path)]);
  const rlimits = (o.ulimit ?? []).map((u) => parseUlimit(u, isRealRoot()));
  const stopSignal = o.stopSignal !== undefined ? parseSignal(o.stopSignal, '--stop-signal') : undefined;
  parseLabels(o.label ?? []);
  if (o.name !== undefined) checkContainerName(o.name);
  if (o.hostname !== undefined) checkHostname(o.hostname);
  if (o.preserveFds !== undefined) checkPreserveFds(o.preserveFds);
  if (o.timeout !== undefined) checkTimeout(o.timeout);
  if (o.tty && o.interactive && !io?.monitor) (await import('./stdin-terminal.js')).checkInteractiveTerminal();
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
  // An alias is a name on a network made with `flux network create`; anywhere else it would be ignored.
  if ((o.networkAlias?.length ?? 0) > 0 && (o.network === undefined || o.network.startsWith('container:') || isNetworkMode(o.network))) {
    throw bad('NETWORK_ALIAS', '--network-alias names a container on a network made with flux network create, and this run joins none.', 'Add --network NAME of such a network, or leave --network-alias out.');
  }
  let join = o.network?.startsWith('container:') ? await joinTarget(o.network.slice('container:'.length), o) : undefined;
  // A user network (flux network create): its own namespace on the network's bridge, joined the same way.
  // podman's shape: a 64-digit id, whose first 12 digits are the default hostname and name. Made
  // here, as a user network names the container by it before the image is read.
  const id = o.containerId ?? randomHex(32);
  const userNet = join === undefined && o.network !== undefined && !isNetworkMode(o.network) ? await joinUserNetwork(o, id, volumes, say) : undefined;
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
    return await runImage({ io, image, cmd, o, say, resolver, networking, security, caps, volumes, tmpfs, rlimits, stopSignal, choice, limits, nproc, maps, mode, publish, chosen, network: needs, namespaces, launch, sandbox, store, rd, id, userNet, handed });
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
