/**
 * Cold pull + unpack from the local registry: flux into an empty store, `podman pull` into an
 * emptied podman store, `skopeo copy` into an empty directory (skopeo does not unpack: it is
 * the floor of fetching and verifying the blobs).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { topOfProfile } from '../lib/cpu-profile.js';
import { interleave } from '../lib/loop.js';
import { log } from '../lib/proc.js';

/**
 * The pull's own start-up: from spawning `flux pull` (cold, an empty store) to its first request
 * arriving at a loopback HTTP server, against the whole run of `node -e 0`, in turn, pair by
 * pair. A process of its own: the sections time with spawnSync, which would stall a server here.
 */
const STARTUP = `
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
const [bin, work, runs] = process.argv.slice(1);
let onRequest;
const server = createServer((req, res) => { onRequest?.(); res.statusCode = 404; res.end('{}'); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const ref = '127.0.0.1:' + server.address().port + '/startup/probe:latest';
const time = (args, env) => new Promise((resolve) => {
  const t0 = process.hrtime.bigint();
  let first;
  onRequest = () => { first ??= Number(process.hrtime.bigint() - t0) / 1e6; };
  const c = spawn(process.execPath, args, { stdio: 'ignore', env: { ...process.env, ...env } });
  c.on('close', () => resolve({ first, wall: Number(process.hrtime.bigint() - t0) / 1e6 }));
});
const out = { node: [], firstRequest: [] };
for (let i = 0; i <= Number(runs); i++) {
  const node = await time(['-e', '0']);
  const store = mkdtempSync(join(work, 'startup-store-'));
  const flux = await time([bin, 'pull', '-q', ref], { FLUX_STORE: store });
  rmSync(store, { recursive: true, force: true });
  if (flux.first === undefined) throw new Error('flux pull made no request');
  if (i > 0) { out.node.push(node.wall); out.firstRequest.push(flux.first); }
}
server.close();
process.stdout.write(JSON.stringify(out));
`;

function benchStartup(ctx) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', STARTUP, ctx.fluxBin, ctx.work, String(Math.max(ctx.runs, 10))], { env: ctx.baseEnv, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) return { error: (r.stderr || `exit ${r.status}`).trim().split('\n').at(-1) };
  const out = JSON.parse(r.stdout);
  const above = out.firstRequest.map((ms, i) => ms - out.node[i]);
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  out.aboveNodeMs = Number(med(above).toFixed(1));
  log(`pull start-up: first request ${med(out.firstRequest).toFixed(1)} ms after spawn, node -e 0 ${med(out.node).toFixed(1)} ms; ${out.aboveNodeMs} ms above it, pair by pair (target < 40 ms)`);
  return out;
}

export function benchPull(ctx, images) {
  const out = {};
  for (const image of images) {
    const ref = ctx.ref(image);
    const fluxStore = join(ctx.work, 'pull-flux');
    const skopeoDir = join(ctx.work, 'pull-skopeo');
    const contenders = [
      {
        name: 'flux',
        prepare: () => {
          ctx.freshDir('pull-flux');
        },
        run: () => ctx.flux(['pull', '-q', ref], { store: fluxStore, rss: true }),
      },
      {
        name: 'podman',
        prepare: () => {
          ctx.podman(['rmi', '-a', '-f']);
        },
        run: () => ctx.podman(['pull', '-q', ref], { rss: true }),
      },
      {
        name: 'skopeo',
        prepare: () => rmSync(skopeoDir, { recursive: true, force: true }),
        run: () => ctx.run('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `dir:${skopeoDir}`], { rss: true }),
      },
    ];
    out[image] = interleave(contenders, { runs: ctx.runsFor(image), warmups: 1, label: `pull ${image}` });
  }
  ctx.podman(['rmi', '-a', '-f']);
  // Where a cold pull of the smallest image spends its time.
  let profile;
  try {
    const store = ctx.freshDir('pull-flux');
    const profDir = ctx.freshDir('cpu-prof-pull');
    ctx.flux(['pull', '-q', ctx.ref(images[0])], { store, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir] });
    profile = { image: images[0], ...topOfProfile(profDir) };
  } catch (err) {
    profile = { error: String(err?.message ?? err) };
  }
  return { images: out, profile, startup: benchStartup(ctx) };
}
