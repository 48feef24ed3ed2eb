/**
 * Detached containers: `flux run -d --rm busybox true` until it returns (the command runs) against
 * a foreground `flux run --rm busybox true`, interleaved; `flux ps` with 1, 10 and 50 running
 * containers; `flux exec` latency; the resident memory of one container's monitor.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { interleave } from '../lib/loop.js';
import { prepareWarmStore } from './warm.js';

/** VmRSS of a process in kB (undefined when it is gone). */
function rssKb(pid) {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

export function benchDetached(ctx) {
  const store = prepareWarmStore(ctx, ['busybox']);
  const ref = ctx.ref('busybox');
  const runtime = ctx.freshDir('detached-runtime');
  const env = { XDG_RUNTIME_DIR: runtime };
  const flux = (args) => ctx.flux(args, { store, env });
  const must = (args) => {
    const r = flux(args);
    if (r.code !== 0) throw new Error(`flux ${args.join(' ')}: ${r.stderr.trim()}`);
    return r;
  };
  const start = interleave(
    [
      { name: 'run -d', run: () => flux(['run', '-d', '--rm', ref, '--', 'true']) },
      { name: 'run', run: () => flux(['run', '--rm', ref, '--', 'true']) },
    ],
    { runs: ctx.warmRuns ?? ctx.runs, warmups: 2, label: 'detached start' },
  );

  const ps = {};
  const running = [];
  for (const n of [1, 10, 50]) {
    while (running.length < n) running.push(must(['run', '-d', '--network', 'none', ref, '--', 'sleep', '3600']).stdout.trim());
    ps[n] = interleave([{ name: `ps ${n}`, run: () => flux(['ps']) }], { runs: ctx.runs, warmups: 1, label: `ps with ${n}` })[`ps ${n}`];
  }
  const exec = interleave([{ name: 'exec', run: () => flux(['exec', running[0], 'true']) }], { runs: ctx.runs, warmups: 1, label: 'exec' }).exec;
  const states = running.map((id) => JSON.parse(readFileSync(join(runtime, 'flux', 'containers', id, 'state.json'), 'utf8')));
  const monitorRssKb = states.map((s) => rssKb(s.monitorPid)).filter((v) => v !== undefined);
  flux(['rm', '-f', ...running]);
  return { start, ps, exec, monitorRssKb };
}
