/**
 * User networks (flux network create): start-up of `flux run --rm … true` on one, next to the
 * default network (slirp4netns) and --network none; then TCP between two containers on it,
 * connect latency and throughput, across the bridge and the two veth pairs. The client end is
 * node (bench/lib/tcp-probe.mjs) entered into a container's network namespace with nsenter, so
 * the clock is a precise one; the server end is busybox in a flux container.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { interleave } from '../lib/loop.js';
import { must, timed } from '../lib/proc.js';
import { summary } from '../lib/stats.js';
import { prepareWarmStore } from './warm.js';

const NET = 'benchnet';

export function benchUserNetwork(ctx) {
  const store = prepareWarmStore(ctx, ['busybox']);
  const ref = ctx.ref('busybox');
  // A runtime dir of the bench's own: its networks and containers never meet the user's.
  const runtime = ctx.freshDir('usernet-runtime');
  const flux = (args) => ctx.flux(args, { store, env: { XDG_RUNTIME_DIR: runtime } });
  const ok = (args) => {
    const r = flux(args);
    if (r.code !== 0) throw new Error(`flux ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
    return r;
  };
  ok(['network', 'create', NET]);
  try {
    const start = interleave([
      { name: 'none', run: () => flux(['run', '--rm', '--network', 'none', ref, '--', 'true']) },
      { name: 'default', run: () => flux(['run', '--rm', ref, '--', 'true']) },
      { name: 'user network', run: () => flux(['run', '--rm', '--network', NET, ref, '--', 'true']) },
    ], { runs: ctx.runs, warmups: 2, label: 'user network start' });

    ok(['run', '-d', '--name', 'srv', '--network', NET, ref, '--', 'sh', '-c', 'httpd -p 80 -h /; while :; do nc -l -p 5001 -e dd of=/dev/null bs=1M 2>/dev/null; done']);
    ok(['run', '-d', '--name', 'cli', '--network', NET, ref, '--', 'sleep', '100000']);
    const members = JSON.parse(readFileSync(join(runtime, 'flux', 'networks', NET, 'members.json'), 'utf8'));
    const server = members.find((m) => m.container === 'srv').address;
    const clientNet = members.find((m) => m.container === 'cli').netPid;
    const probe = (args) => {
      const r = timed('nsenter', ['-t', String(clientNet), '-U', '-n', '--preserve-credentials', '--', process.execPath, join(ctx.app, 'bench/lib/tcp-probe.mjs'), ...args], { env: ctx.baseEnv, cwd: ctx.app });
      if (r.code !== 0) throw new Error(`tcp-probe ${args.join(' ')}: ${r.stderr.trim()}`);
      return JSON.parse(r.stdout);
    };
    const connectMs = probe(['connect', server, '80', String(Math.max(50, ctx.runs * 20))]).ms;
    const mb = ctx.quick ? 64 : 512;
    const throughput = [];
    for (let i = 0; i < Math.max(3, Math.min(ctx.runs, 5)); i++) throughput.push(probe(['send', server, '5001', String(mb)]).MBps);
    return {
      startMs: Object.fromEntries(Object.entries(start).map(([k, v]) => [k, v.samples])),
      startErrors: Object.fromEntries(Object.entries(start).filter(([, v]) => v.error).map(([k, v]) => [k, v.error])),
      connectMs: summary(connectMs),
      throughputMBps: summary(throughput),
      mb,
    };
  } finally {
    for (const c of ['srv', 'cli']) flux(['rm', '-f', c]);
    must(process.execPath, [ctx.fluxBin, 'network', 'rm', '-f', NET], { env: { ...ctx.baseEnv, FLUX_STORE: store, XDG_RUNTIME_DIR: runtime }, cwd: ctx.app });
  }
}
