/**
 * Root filesystem assembly for already unpacked images: the overlay mount a run performs
 * (fresh upper/work, userxattr) timed alone, in a user+mount namespace of the user's own.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareWarmStore } from './warm.js';

const TIMER = fileURLToPath(new URL('../lib/mount-timer.js', import.meta.url));

export function benchAssembly(ctx, images) {
  const store = prepareWarmStore(ctx, images);
  const out = {};
  for (const image of images) {
    const diffIds = ctx.fixtures[image]?.diffIds ?? [];
    const lowers = diffIds.map((d) => join(store, 'layers', d.replace(':', '/'))).reverse();
    const scratch = ctx.freshDir(`assembly-${image}`);
    const r = ctx.run('unshare', ['--user', '--map-root-user', '--mount', process.execPath, TIMER, ctx.app, scratch, String(ctx.runs), ...lowers]);
    if (r.code !== 0) {
      out[image] = { layers: lowers.length, error: r.stderr.trim() || `exit ${r.code}` };
      continue;
    }
    const t = JSON.parse(r.stdout);
    out[image] = { layers: lowers.length, ...t, totalMs: t.mountMs.map((m, i) => m + t.mkdirMs[i]) };
  }
  return out;
}
