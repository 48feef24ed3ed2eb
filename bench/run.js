#!/usr/bin/env node
/**
 * `npm run bench`: flux side by side with podman, skopeo, bwrap and `node -e 0`, in one run,
 * on the same images from the same local registry. As root it sets the machine up and measures
 * as the unprivileged user; as a plain user it measures as that user.
 *
 *   node bench/run.js [--quick] [--runs N] [--curve-runs N] [--only pull,warm,detached,matrix,store,assembly,network,usernet,unpack,curves]
 *
 * Prints a table (median, ratio flux/peer taken pair by pair, target) and writes
 * bench/results.json (machine, date, every raw sample); the cost curves also as tables and SVG
 * charts in docs/curves/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { log } from './lib/proc.js';
import { buildRows, formatTable } from './lib/report.js';
import { buildCurveImages, ENTRY_COUNTS, MATRIX_COUNTS } from './lib/curve-images.js';
import { curveTables, writeCurveCharts } from './lib/curves-report.js';
import { appDirFor, ensureBuilt, ensureFixtures, ensureTools, ensureUser, isRoot, makeWorkDir, pushFixtures, ROOT, startRegistry, writePodmanConfig } from './lib/setup.js';

const SECTIONS = ['pull', 'warm', 'detached', 'matrix', 'store', 'assembly', 'network', 'usernet', 'unpack', 'curves'];
const FIXTURES = ['busybox', 'multilayer', 'distro-alt', 'busybox-zstd', 'debian'];

function options(argv) {
  const opt = { quick: argv.includes('--quick'), only: SECTIONS, runs: undefined, keep: argv.includes('--keep') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') opt.only = (argv[++i] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    else if (argv[i].startsWith('--only=')) opt.only = argv[i].slice(7).split(',');
    else if (argv[i] === '--runs') opt.runs = Number(argv[++i]);
    else if (argv[i] === '--curve-runs') opt.curveRuns = Number(argv[++i]);
    else if (argv[i] === '-h' || argv[i] === '--help') {
      console.log('usage: npm run bench -- [--quick] [--runs N] [--curve-runs N] [--only ' + SECTIONS.join(',') + '] [--keep]');
      process.exit(0);
    }
  }
  const unknown = opt.only.filter((s) => !SECTIONS.includes(s));
  if (unknown.length) {
    console.error(`bench: unknown section ${unknown.join(', ')}; choose from ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
  opt.runs ??= opt.quick ? 3 : 10;
  // Warm runs take a second a round and this machine's speed flips from run to run: 30 rounds
  // give their medians a steadier footing than 10.
  opt.warmRuns = opt.quick ? opt.runs : Math.max(opt.runs, 30);
  // A curve has a dozen points of up to a minute each: a few rounds show its shape.
  opt.curveRuns ??= opt.quick ? 1 : 3;
  return opt;
}

function version(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : null;
}

function manifestBytes(dir, fx) {
  if (!fx.layers) return undefined;
  const manifest = JSON.parse(readFileSync(join(dir, fx.name, 'blobs', fx.digest.replace(':', '/')), 'utf8'));
  return manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
}

const opt = options(process.argv.slice(2));
const loadBefore = os.loadavg()[0];
ensureTools();
const user = ensureUser();
ensureBuilt();
// The curves build their own images on busybox: alone, they need no other fixture.
const { dir: fixturesDir, fixtures } = ensureFixtures(opt.only.every((s) => s === 'curves') ? ['busybox'] : FIXTURES);
const app = appDirFor(user);
const work = makeWorkDir(user);
const registry = await startRegistry();
let status = 0;
try {
  log(`registry on ${registry.host}; pushing ${Object.keys(fixtures).join(', ')}`);
  pushFixtures(registry.host, fixturesDir, Object.keys(fixtures));
  let curveImages;
  if (opt.only.includes('curves')) {
    const built = await buildCurveImages(fixturesDir, { entries: opt.quick ? ENTRY_COUNTS.slice(0, 2) : ENTRY_COUNTS });
    const names = [...Object.values(built.layers), ...Object.values(built.entries), ...built.matrix];
    log(`pushing the ${names.length} images of the cost curves`);
    pushFixtures(registry.host, built.dir, names);
    curveImages = { ...built, matrixCounts: MATRIX_COUNTS };
  }
  const podmanDir = writePodmanConfig(work, user, registry.host);
  const cfg = {
    app, work, registry: registry.host, podmanDir, runs: opt.runs, warmRuns: opt.warmRuns, quick: opt.quick, only: opt.only, fixtures, curveImages, curveRuns: opt.curveRuns,
    manifestBytes: Object.fromEntries(Object.entries(fixtures).map(([n, fx]) => [n, manifestBytes(fixturesDir, fx)])),
  };
  const cfgFile = join(work, 'config.json');
  const outFile = join(work, 'results.json');
  writeFileSync(cfgFile, JSON.stringify(cfg));
  writeFileSync(outFile, '{}');
  if (isRoot) for (const f of [cfgFile, outFile]) chownSync(f, user.uid, user.gid);
  const worker = join(app, 'bench/worker.js');
  const env = [`HOME=${user.home}`, 'PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', `USER=${user.name}`, `LOGNAME=${user.name}`, 'LANG=C.UTF-8'];
  const [cmd, args] = isRoot
    ? ['runuser', ['-u', user.name, '--', 'env', '-i', ...env, process.execPath, worker, cfgFile, outFile]]
    : [process.execPath, [worker, cfgFile, outFile]];
  log(`measuring as ${user.name}, ${opt.runs} runs per figure after a warm-up`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: work });
  if (r.status !== 0) {
    log(`the measuring process exited ${r.status}`);
    status = 1;
  }
  const results = JSON.parse(readFileSync(outFile, 'utf8'));
  const rows = buildRows(results);
  const machine = {
    date: new Date().toISOString(),
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    podman: version('podman'),
    runc: version('runc'),
    skopeo: version('skopeo'),
    bwrap: version('bwrap'),
    slirp4netns: version('slirp4netns'),
    user: user.name,
    runs: opt.runs,
    loadAverage: { before: loadBefore, after: os.loadavg()[0] },
  };
  const table = formatTable(rows.map(({ ratioStats, ...r }) => r));
  console.log(`\nflux bench — ${machine.date.slice(0, 10)}, ${machine.cores} cores (${machine.cpu}), Linux ${machine.kernel}, node ${machine.node}, ${machine.podman}; ${opt.runs} runs per figure\n`);
  if (rows.length) console.log(table);
  if (Math.max(loadBefore, os.loadavg()[0]) > machine.cores) console.log(`\nnote: load average ${loadBefore.toFixed(1)} → ${os.loadavg()[0].toFixed(1)} on ${machine.cores} cores: other work shared the machine, so expect noisy figures`);
  for (const [what, prof] of [['warm run', results.warm?.profile], [`cold pull of ${results.pull?.profile?.image}`, results.pull?.profile]]) {
    if (!prof?.byFile) continue;
    console.log(`\n${what}: CPU profile (node --cpu-prof, ${prof.wallMs} ms profiled), self time by kind, then by file`);
    for (const f of prof.byKind.slice(0, 8)) console.log(`  ${String(f.ms).padStart(6)} ms  ${f.name}`);
    console.log('  --');
    for (const f of prof.byFile.slice(0, 8)) console.log(`  ${String(f.ms).padStart(6)} ms  ${f.name}`);
  }
  const phases = results.warm?.phases;
  if (phases && Object.keys(phases).length) {
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`\nwarm run phases (FLUX_TIMING=1, ms since process start, median): ${Object.entries(phases).map(([k, v]) => `${k} ${med(v).toFixed(1)}`).join(', ')}`);
  }
  if (results.curves) {
    console.log(`\ncost curves (medians of ${opt.curveRuns} runs a point, flux and podman taking turns)\n`);
    console.log(curveTables(results.curves));
    if (!opt.quick) {
      const dir = join(ROOT, 'docs/curves');
      const files = writeCurveCharts(results.curves, dir);
      writeFileSync(join(dir, 'README.md'), `# Cost curves\n\n\`npm run bench -- --only curves\`, ${machine.date.slice(0, 10)}, ${machine.cores} cores, Linux ${machine.kernel}, node ${machine.node}, ${machine.podman}; medians of ${opt.curveRuns} runs a point.\n\n${curveTables(results.curves)}`);
      log(`wrote ${files.length} charts and their tables to ${dir}`);
    }
  }
  if (opt.quick) log('--quick: 3 runs, for a smoke check; results.json not written');
  else writeFileSync(join(ROOT, 'bench/results.json'), `${JSON.stringify({ machine, rows, results }, null, 1)}\n`);
} finally {
  await registry.stop();
  if (!opt.keep) {
    // Layers and podman's storage hold files of the user's subordinate ids: only root (or the user's full map) removes them.
    if (isRoot) rmSync(work, { recursive: true, force: true });
    else spawnSync('podman', ['unshare', 'rm', '-rf', work], { stdio: 'ignore' });
    if (existsSync(work)) log(`could not remove ${work}`);
  }
}
process.exit(status);
