#!/usr/bin/env node
/**
 * The measuring half of `npm run bench`, run as the unprivileged user: reads the set-up made by
 * run.js (registry, scratch dir, podman configuration), times every section, writes raw JSON.
 *   node bench/worker.js CONFIG.json RESULTS.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { makeContext } from './lib/context.js';
import { log } from './lib/proc.js';
import { benchAssembly } from './sections/assembly.js';
import { benchDetached } from './sections/detached.js';
import { benchCurves } from './sections/curves.js';
import { benchMatrix } from './sections/matrix.js';
import { benchPull } from './sections/pull.js';
import { benchStore } from './sections/store.js';
import { benchUnpack } from './sections/unpack.js';
import { benchUserNetwork } from './sections/user-network.js';
import { benchWarm } from './sections/warm.js';

const [cfgFile, outFile] = process.argv.slice(2);
const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
const ctx = makeContext(cfg);
ctx.runsFor = () => cfg.runs;
const want = (s) => cfg.only.includes(s);
const has = (image) => image in cfg.fixtures;
const results = {};

async function section(name, fn) {
  if (!want(name)) return;
  // Each section starts on a synced disk: the write-back of the one before (the debian pull
  // writes hundreds of MB) would otherwise land on this one's figures, flux's and its peers'.
  spawnSync('sync', { stdio: 'ignore' });
  log(`${name}…`);
  const t0 = Date.now();
  try {
    results[name] = await fn();
  } catch (err) {
    log(`${name} failed: ${err?.message ?? err}`);
    results[name] = { error: String(err?.message ?? err) };
  }
  log(`${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(outFile, JSON.stringify(results));
}

// The warm runs come before the cold pulls, which delete a store of thousands of files after
// each pull. On an ext4 without a journal the kernel then skips every recently deleted inode
// when it allocates one, for one to six minutes: each directory a run (flux's or podman's) or an
// overlay mount creates then costs about 1 ms instead of 0.1 ms, which is the aftermath of the
// pull section, not a start-up time.
await section('warm', () => benchWarm(ctx));
await section('detached', () => benchDetached(ctx));
await section('matrix', () => benchMatrix(ctx, ['busybox', 'distro-alt', 'multilayer', has('debian') ? 'debian' : 'busybox-zstd'].filter(has)));
// The curves' pulls delete stores of up to 200k files: they come after the warm runs and the
// matrix too, and their own warm points (volumes, matrix, ps) come before their pulls.
await section('curves', () => benchCurves(ctx, cfg.curveImages, cfg.curveRuns));
await section('pull', () => benchPull(ctx, ['busybox', 'multilayer', 'debian'].filter(has)));
await section('store', () => benchStore(ctx, ['busybox', 'distro-alt']));
await section('assembly', () => benchAssembly(ctx, ['busybox', 'multilayer', 'debian'].filter(has)));
await section('unpack', () => benchUnpack(ctx, cfg.quick ? [1000, 4000] : undefined));
await section('usernet', () => benchUserNetwork(ctx));
await section('network', async () => {
  const { benchNetwork } = await import('./network.mjs');
  return await benchNetwork({ runs: cfg.runs, mb: cfg.quick ? 32 : 256, fluxRun: false });
});
writeFileSync(outFile, JSON.stringify(results));
