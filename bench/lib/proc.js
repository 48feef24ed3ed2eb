/** Timed child processes. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TIME_BIN = '/usr/bin/time';

/**
 * Run once; returns { ms, code, stdout, stderr, rssKb? }. With `rss`, GNU time reports the peak
 * resident set of the process (the largest of it and its waited-for children) into a file.
 */
export function timed(cmd, args, { env, cwd, rss = false, input, timeoutMs = 600_000 } = {}) {
  let file = cmd;
  let argv = args;
  let rssFile;
  if (rss) {
    rssFile = join(rssDir(), `rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
    file = TIME_BIN;
    argv = ['-f', '%M', '-o', rssFile, cmd, ...args];
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { env, cwd, input, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const out = { ms, code: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (r.error) out.stderr += String(r.error.message);
  if (rssFile) {
    try {
      const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
      if (Number.isFinite(kb)) out.rssKb = kb;
    } catch {
      /* time could not write it: the figure is simply missing */
    }
    rmSync(rssFile, { force: true });
  }
  return out;
}

let dir;
function rssDir() {
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'flux-bench-rss-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}

/** Run, and throw with the command's own words when it fails. */
export function must(cmd, args, opts = {}) {
  const r = timed(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  return r;
}

export function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function log(msg) {
  process.stderr.write(`bench: ${msg}\n`);
}

/**
 * The processes of ours with one of these command names, to wait for later with waitForExit.
 * `podman run --rm` returns while conmon finishes the container's cleanup (and its slirp4netns
 * still runs) for a second or two: timed then, the next contender would pay for that work.
 */
export function snapshotProcesses(names) {
  return new Set(processesNamed(names, process.getuid()));
}

/** Waits (untimed), at most `timeoutMs`, until those named processes not in `before` are gone. */
export function waitForExit(names, before, timeoutMs = 10_000) {
  const uid = process.getuid();
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const left = processesNamed(names, uid).filter((pid) => !before.has(pid));
    if (!left.length || Date.now() > deadline) return;
    Atomics.wait(pause, 0, 0, 20);
  }
}

function processesNamed(names, uid) {
  const found = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const name = /^Name:\s+(.*)$/m.exec(status)?.[1];
      const owner = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      if (owner === uid && state !== 'Z' && names.includes(name)) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
