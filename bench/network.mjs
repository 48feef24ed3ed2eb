#!/usr/bin/env node
/**
 * Network figures: what the default network (slirp4netns) adds to a container's start-up over
 * --network none, and TCP throughput from a container to a listener on the host's loopback
 * (slirp4netns via 10.0.2.2 with allow_host_loopback; pasta via the mapped gateway).
 *
 * Runs as an unprivileged user (as root it re-runs itself as $FLUX_BENCH_USER, default fluxtest).
 * `node bench/network.mjs [--runs N] [--mb N] [--json]`; import { benchNetwork } to use the numbers.
 * Only loopback and namespaces made here carry traffic.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

async function newNamespace() {
  const ns = spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '600'], { stdio: 'ignore' });
  // unshare has made the namespace once /proc/PID/ns/net differs from ours.
  const { readlinkSync } = await import('node:fs');
  const mine = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200; i++) {
    try {
      if (readlinkSync(`/proc/${ns.pid}/ns/net`) !== mine) return ns;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('unshare did not make a namespace');
}

async function loadNetwork() {
  return import(join(ROOT, 'dist/src/sandbox/network.js'));
}

const baseReq = { publish: [], publishAll: false, exposedPorts: [], hostname: 'bench' };

/** ms from createNetwork() to attach() resolved, plus detach(), on a fresh namespace. */
async function attachTime(mode, runs) {
  const { createNetwork } = await loadNetwork();
  const times = [];
  const detachTimes = [];
  for (let i = 0; i < runs; i++) {
    const ns = await newNamespace();
    const t0 = process.hrtime.bigint();
    const net = await createNetwork({ ...baseReq, mode });
    await net.attach(ns.pid);
    const t1 = process.hrtime.bigint();
    await net.detach();
    const t2 = process.hrtime.bigint();
    ns.kill('SIGKILL');
    times.push(Number(t1 - t0) / 1e6);
    detachTimes.push(Number(t2 - t1) / 1e6);
  }
  return { attach: median(times), detach: median(detachTimes) };
}

/**
 * Median ms of `flux run --network MODE busybox true` per mode, when the run command and the
 * fixture exist. The modes take turns, so load from elsewhere on the machine hits them alike.
 */
function fluxRunTimes(modes, runs) {
  const bin = join(ROOT, 'bin/flux.js');
  const argsOf = (mode) => [bin, 'run', '--network', mode, 'oci:fixtures/out/busybox', '--', 'true'];
  // One store kept between bench runs (the image is pulled into it once), not the user's own.
  const env = { ...process.env, FLUX_STORE: process.env.FLUX_STORE ?? `/tmp/flux-bench-network-store-${process.getuid?.()}` };
  const times = Object.fromEntries(modes.map((m) => [m, []]));
  for (const mode of modes) {
    if (spawnSync(process.execPath, argsOf(mode), { cwd: ROOT, stdio: 'ignore', env }).status !== 0) return undefined;
  }
  for (let i = 0; i < runs; i++) {
    for (const mode of modes) {
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, argsOf(mode), { cwd: ROOT, stdio: 'ignore', env });
      times[mode].push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  return Object.fromEntries(modes.map((m) => [m, median(times[m])]));
}

/** MB/s of `mb` MiB sent from inside the namespace to a host loopback listener. */
async function throughput(mode, mb, gatewayOf) {
  const { createNetwork } = await loadNetwork();
  const ns = await newNamespace();
  const net = await createNetwork({ ...baseReq, mode });
  await net.attach(ns.pid);
  let received = 0;
  let start = 0n;
  let end = 0n;
  const server = createServer((sock) => {
    sock.on('data', (d) => {
      if (received === 0) start = process.hrtime.bigint();
      received += d.length;
    });
    sock.on('end', () => {
      end = process.hrtime.bigint();
      sock.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  try {
    const gw = gatewayOf(ns.pid);
    const sender = `dd if=/dev/zero bs=1M count=${mb} 2>/dev/null | timeout 120 busybox nc ${gw} ${port}`;
    // Asynchronously: the listener lives in this process's event loop.
    const child = spawn('nsenter', ['-t', String(ns.pid), '-U', '-n', '--preserve-credentials', '--', 'sh', '-c', sender], { stdio: 'ignore' });
    await new Promise((r2) => child.once('close', r2));
    for (let i = 0; i < 100 && end === 0n; i++) await new Promise((r2) => setTimeout(r2, 20));
  } finally {
    server.close();
    await net.detach();
    ns.kill('SIGKILL');
  }
  if (received < mb * 1024 * 1024 || end === 0n) return undefined;
  return received / (1024 * 1024) / (Number(end - start) / 1e9);
}

function defaultGateway(pid) {
  const r = spawnSync('nsenter', ['-t', String(pid), '-U', '-n', '--preserve-credentials', '--', 'ip', 'route', 'show', 'default'], { encoding: 'utf8' });
  return /default via (\S+)/.exec(r.stdout ?? '')?.[1] ?? '10.0.2.2';
}

export async function benchNetwork({ runs = 10, mb = 256, fluxRun = true } = {}) {
  const out = {};
  const none = await attachTime('none', runs);
  const slirp = await attachTime('slirp4netns', runs);
  out.attachNoneMs = none.attach;
  out.attachSlirp4netnsMs = slirp.attach;
  out.detachSlirp4netnsMs = slirp.detach;
  if (has('pasta')) {
    const pasta = await attachTime('pasta', runs);
    out.attachPastaMs = pasta.attach;
    out.detachPastaMs = pasta.detach;
  }
  const modes = has('pasta') ? ['none', 'slirp4netns', 'pasta'] : ['none', 'slirp4netns'];
  const run = fluxRun ? fluxRunTimes(modes, runs) : undefined;
  if (run) {
    out.runNoneMs = run.none;
    out.runSlirp4netnsMs = run.slirp4netns;
    out.runExtraMs = run.slirp4netns - run.none;
    if (run.pasta !== undefined) {
      out.runPastaMs = run.pasta;
      out.runPastaExtraMs = run.pasta - run.none;
    }
  }
  out.tcpSlirp4netnsMBps = await throughput('slirp4netns:allow_host_loopback=true', mb, () => '10.0.2.2');
  if (has('pasta')) out.tcpPastaMBps = await throughput('pasta:allow_host_loopback=true', mb, defaultGateway);
  return out;
}

function reexecAsUser() {
  const user = process.env.FLUX_BENCH_USER ?? 'fluxtest';
  const r = spawnSync('runuser', ['-u', user, '--', 'env', '-i', 'PATH=/usr/local/bin:/usr/bin:/bin', process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    cwd: '/',
  });
  process.exit(r.status ?? 1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.getuid?.() === 0) reexecAsUser();
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const res = await benchNetwork({ runs: arg('--runs', 10), mb: arg('--mb', 256) });
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(res));
  } else {
    const f = (v, unit) => (v === undefined ? 'n/a' : `${v.toFixed(1)} ${unit}`);
    console.log(`network attach (module, median): none ${f(res.attachNoneMs, 'ms')}, slirp4netns ${f(res.attachSlirp4netnsMs, 'ms')}, pasta ${f(res.attachPastaMs, 'ms')}`);
    console.log(`network detach (module, median): slirp4netns ${f(res.detachSlirp4netnsMs, 'ms')}, pasta ${f(res.detachPastaMs, 'ms')}`);
    if (res.runExtraMs !== undefined) {
      const pasta = res.runPastaMs === undefined ? '' : `, pasta ${f(res.runPastaMs, 'ms')} (+${f(res.runPastaExtraMs, 'ms')})`;
      console.log(`flux run true (median): --network none ${f(res.runNoneMs, 'ms')}, slirp4netns ${f(res.runSlirp4netnsMs, 'ms')} (+${f(res.runExtraMs, 'ms')})${pasta}`);
    }
    console.log(`TCP container→host loopback: slirp4netns ${f(res.tcpSlirp4netnsMBps, 'MB/s')}, pasta ${f(res.tcpPastaMBps, 'MB/s')}`);
  }
}
