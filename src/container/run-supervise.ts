/** A run's last phase: the container goes to the waiting helper, runs (on a copy of the layers if the overlay is refused), and is handed to its monitor or ended. */
import { existsSync } from 'node:fs';
import { FluxError } from '../errors.js';
import { escapeText } from '../escape.js';
import { lap } from '../timing.js';
import type { ImageRecord } from '../../store/image-index.js';
import type { ResolvedUser } from '../image/user.js';
import { keepIdFuseMapping } from '../userns/keep-id.js';
import type { ContainerSpec, RlimitSpec, RootfsSpec } from '../sandbox/plan.js';
import { containerRunName } from '../container-runs.js';
import { cleanStaleRuns, claimRunDir, makeRunDir, overlaySpec, prepareCopy, removeTree, type RunDir } from '../sandbox/rootfs.js';
import { runSandbox } from '../sandbox/supervisor.js';
import { warnSingleMap } from '../userns/userns.js';
import type { NetworkAttachment } from '../sandbox/network-types.js';
import type { ProcessSpec } from './process-spec.js';
import { parseSignal } from './stop-signal.js';
import { startTimeout, TIMEOUT_EXIT, type RunTimer } from './run-timeout.js';
import { announcing } from './join-network.js';
import { etcFilesFor } from './run-etc-files.js';
import type { Started } from './run-started.js';
import { bad } from './run-error.js';

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

/** What runImage read from the image and made before the container goes to the helper. */
export interface Prepared {
  /** None for a root filesystem directory. */
  record: ImageRecord | undefined;
  config: { StopSignal?: string };
  lowers: string[];
  user: ResolvedUser;
  rlimits: RlimitSpec[];
  proc: ProcessSpec;
  id: string;
  hostname: string;
  network: NetworkAttachment;
}

/** Hands the container to the waiting helper and sees the run through: its exit code, or 0 once a monitor holds it. */
export async function superviseRun(started: Started, prepared: Prepared): Promise<number> {
  // The container part is on its way to the helper: io's own work fills the wait for it.
  const meanwhile = <T>(running: Promise<T>): Promise<T> => {
    started.io?.meanwhile?.();
    return running;
  };
  const { io, image, o, say, security, caps, volumes, tmpfs, choice, limits, maps, namespaces, launch, sandbox, store, rd } = started;
  const { record, config, lowers, user, rlimits, proc, id, hostname, network } = prepared;
  const keep = maps?.keep;
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
    const etcFiles = etcFilesFor(o, network, hostname, id, lowers, maps, record, image);

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
