/** A run's middle phase, while the helper makes the namespaces: the image read, its user and process settled, the network made. */
import { readFileSync } from 'node:fs';
import { lap } from '../timing.js';
import { capMask } from '../sandbox/caps.js';
import { defaultIdOf } from '../userns/keep-id.js';
import { nprocRlimit } from '../sandbox/nproc-rlimit.js';
import type { NetworkAttachment } from '../sandbox/network-types.js';
import { commandLine, parseEnvFile, processSpec } from './process-spec.js';
import { chownVolumes } from './chown-volumes.js';
import { findRecord } from './run-target.js';
import { containerUser } from './run-user.js';
import { superviseRun } from './run-supervise.js';
import type { Started } from './run-started.js';
import { bad } from './run-error.js';

/** Reads the image, prepares the root and hands the container to the waiting helper. */
export async function runImage(started: Started): Promise<number> {
  const { image, cmd, o, say, resolver, networking, security, caps, volumes, publish, mode, maps, store } = started;
  // A root filesystem directory is a single read-only layer with no image config.
  const record = typeof image === 'string' ? await findRecord(image, o, store, say, resolver) : undefined;
  lap('image');
  const config = record?.config.config ?? {};
  if (started.userNet && o.publishAll) for (const f of await started.userNet.publishExposed(Object.keys(config.ExposedPorts ?? {}))) say(`flux: published ${f.hostIp}:${f.hostPort} -> ${f.containerPort}/${f.protocol}\n`);
  const argv = commandLine(config, cmd, o.entrypoint);
  if (argv.length === 0) {
    if (!record) throw bad('NO_COMMAND', 'no command given, and a root filesystem directory has no Entrypoint or Cmd.', 'Name one after --: flux run --rootfs DIR -- sh.');
    // An empty --entrypoint clears the image's Entrypoint and, as in docker, its Cmd with it.
    if (o.entrypoint !== undefined && ((config.Entrypoint?.length ?? 0) > 0 || (config.Cmd?.length ?? 0) > 0)) {
      throw bad('NO_COMMAND', `no command given, and --entrypoint "" clears the Entrypoint and Cmd of the image ${record.reference}.`, `Name the command after the image: flux run --entrypoint "" ${image as string} -- sh.`);
    }
    throw bad('NO_COMMAND', `no command given and the image ${record.reference} has no Entrypoint or Cmd.`, `Name one: flux run ${image as string} -- sh.`);
  }
  const lowers = record ? record.layers.map((l) => store.layerPath(l.diffId)).reverse() : [(image as { rootfs: string }).rootfs];
  if (lowers.length === 0) throw bad('NO_LAYERS', `the image ${record!.reference} has no layers.`, 'Pull a complete image.');

  const user = containerUser(lowers, config, o, maps);
  const keep = maps?.keep;
  const rlimits = started.nproc !== undefined ? [...started.rlimits, nprocRlimit(started.nproc, user.uid)] : started.rlimits;
  if (volumes.some((v) => v.chown)) await chownVolumes(volumes, keep ? defaultIdOf(user.uid, keep.uid) : user.uid, keep ? defaultIdOf(user.gid, keep.gid) : user.gid);

  const id = started.id;
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
    homeFromUser: proc.homeFromUser,
    // What `flux stop` sends: --stop-signal, else the image's StopSignal (docker's and podman's rule).
    ...((o.stopSignal ?? config.StopSignal) ? { stopSignal: o.stopSignal ?? config.StopSignal } : {}),
    ...(started.nproc !== undefined ? { nproc: started.nproc } : {}),
  });

  const { createNetwork } = await networking;
  const made: NetworkAttachment = await createNetwork({
    mode,
    publish,
    publishAll: o.publishAll,
    exposedPorts: Object.keys(config.ExposedPorts ?? {}),
    hostname,
    ...(started.network.launch ? { launch: started.network.launch } : {}),
    ...(o.runtimeDir !== undefined ? { runtimeDir: o.runtimeDir } : {}),
  });

  // A user network member's resolv.conf and host gateway are its network's, not the host's (its
  // mode is 'host' only as it joins a namespace made beforehand).
  const network: NetworkAttachment = started.userNet ? { ...made, resolvConf: started.userNet.resolvConf, hostGateway: started.userNet.hostGateway } : made;
  lap('network');
  return superviseRun(started, { record, config, lowers, user, rlimits, proc, id, hostname, network });
}
