/** `flux info`: what flux found on this machine, as text for people or JSON for programs. */
import { FluxError } from '../errors.js';
import { escapeJson, escapeText } from '../escape.js';
import { humanSize } from '../format.js';
import { Flux } from '../library/flux.js';

const yes = (b: boolean): string => (b ? 'yes' : 'no');
const ranges = (r: { start: number; count: number }[]): string => (r.length === 0 ? 'none' : r.map((x) => `${x.start}+${x.count}`).join(', '));

export async function infoCommand(o: { format?: string }): Promise<void> {
  if (o.format !== undefined && o.format !== 'json') {
    throw new FluxError('BAD_OPTION', `"${o.format}" is not an output format of flux info.`, { hint: 'Use --format json, or leave it out for text.', exitCode: 125 });
  }
  const i = await new Flux().info();
  if (o.format === 'json') {
    process.stdout.write(`${escapeJson(JSON.stringify(i, null, 2))}\n`);
    return;
  }
  const lines = [
    `kernel:           ${i.kernel.release} (${i.kernel.arch})`,
    `node:             ${i.node}`,
    `user:             ${i.user.name} (uid ${i.user.uid}, gid ${i.user.gid})${i.user.realRoot ? ', real root' : ''}`,
    `user namespaces:  ${i.userNamespaces.allowed ? 'allowed' : `refused: ${i.userNamespaces.reason}`}`,
    `subuid:           ${ranges(i.subuid)}`,
    `subgid:           ${ranges(i.subgid)}`,
    `newuidmap:        ${i.newuidmap ?? 'missing'}`,
    `newgidmap:        ${i.newgidmap ?? 'missing'}`,
    `overlay:          ${i.overlay.used} (native in a user namespace: ${yes(i.overlay.nativeInUserNamespace)}, fuse-overlayfs: ${i.overlay.fuseOverlayfs ?? 'missing'}, /dev/fuse: ${yes(i.overlay.devFuse)}, FLUX_OVERLAY: ${i.overlay.setting})`,
    `slirp4netns:      ${i.network.slirp4netns ?? 'missing'}`,
    `pasta:            ${i.network.pasta ?? 'missing'}`,
    `/dev/net/tun:     ${i.network.devNetTun ? 'usable' : 'not usable'}`,
    `cgroup:           ${i.cgroup.version === null ? 'none' : `v${i.cgroup.version}`}${i.cgroup.path ? ` at ${i.cgroup.path}` : ''}, delegated: ${yes(i.cgroup.delegated)}; --memory: ${yes(i.cgroup.limits.memory)}, --cpus: ${yes(i.cgroup.limits.cpus)}, --pids-limit: ${i.pidsLimit === 'cgroup' ? 'yes' : i.pidsLimit === 'rlimit' ? 'yes (RLIMIT_NPROC in the user namespace)' : 'no'}`,
    `store:            ${i.store.path} (${i.store.exists ? humanSize(i.store.sizeBytes) : 'not created yet'})`,
    `runtime dir:      ${i.runtimeDir ?? 'none'}`,
  ];
  if (i.missing.length === 0) lines.push('', 'nothing missing');
  else {
    lines.push('', 'missing:');
    for (const m of i.missing) lines.push(`  ${m.what}: ${m.effect}`, `    fix: ${m.fix}`);
  }
  process.stdout.write(`${lines.map(escapeText).join('\n')}\n`);
}
