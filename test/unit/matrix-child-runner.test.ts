import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArgv, spawnRun } from '../../src/commands/matrix-children.js';
import type { OutputSink } from '../../src/matrix/types.js';

/** Stands in for bin/flux.js: echoes its argv, then behaves as the command asks. */
const FAKE = `
const argv = process.argv.slice(2);
process.stdout.write(JSON.stringify(argv) + '\\n');
const cmd = argv.slice(argv.indexOf('--') + 1);
if (cmd[0] === 'exit') { process.stderr.write('bye\\n'); process.exit(Number(cmd[1])); }
if (cmd[0] === 'wait') {
  process.on('SIGTERM', () => { process.stdout.write('cleaning up\\n'); setTimeout(() => process.exit(143), 50); });
  process.stdout.write('ready\\n');
  setInterval(() => {}, 1000);
}
if (cmd[0] === 'die') process.kill(process.pid, 'SIGKILL');
if (cmd[0] === 'stubborn') {
  // As flux run does: the first stop signal is the command's, a second kills the container.
  let n = 0;
  process.on('SIGTERM', () => { n++; process.stdout.write('term ' + n + '\\n'); if (n === 2) setTimeout(() => process.exit(137), 10); });
  process.stdout.write('ready\\n');
  setInterval(() => {}, 1000);
}
`;

function memorySink(): OutputSink & { out: string; err: string } {
  const s = {
    out: '',
    err: '',
    stdout(c: Buffer) {
      s.out += c.toString();
    },
    stderr(c: Buffer) {
      s.err += c.toString();
    },
    async close() {},
  };
  return s;
}

describe('a matrix run as a child flux run', () => {
  let dir: string;
  let bin: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flux-matrix-child-'));
    bin = join(dir, 'fake-flux.js');
    await writeFile(bin, FAKE);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('passes the run options before the image, never pulls, and keeps the command after --', () => {
    expect(runArgv('busybox', { runArgs: ['--env=A=1', '--read-only'], command: ['sh', '-c', 'x'], bin: '/b' })).toEqual([
      '/b', 'run', '--env=A=1', '--read-only', '--pull=never', 'busybox', '--', 'sh', '-c', 'x',
    ]);
    expect(runArgv('busybox', { runArgs: [], command: [], bin: '/b' })).toEqual(['/b', 'run', '--pull=never', 'busybox']);
  });

  it('captures stdout and stderr and gives the exit code', async () => {
    const sink = memorySink();
    const r = await spawnRun('img', sink, { runArgs: ['-q'], command: ['exit', '7'], bin }).done;
    expect(r.exitCode).toBe(7);
    expect(JSON.parse(sink.out.split('\n')[0]!)).toEqual(['run', '-q', '--pull=never', 'img', '--', 'exit', '7']);
    expect(sink.err).toBe('bye\n');
  });

  it('passes a signal on and waits for the run to clean up', async () => {
    const sink = memorySink();
    const child = spawnRun('img', sink, { runArgs: [], command: ['wait'], bin });
    while (!sink.out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
    child.signal('SIGTERM');
    expect((await child.done).exitCode).toBe(143);
    expect(sink.out).toContain('cleaning up\n');
  });

  it('kills a run as a second stop signal, which flux run answers by killing its container and cleaning up', async () => {
    const sink = memorySink();
    const child = spawnRun('img', sink, { runArgs: [], command: ['stubborn'], bin });
    while (!sink.out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
    child.signal('SIGKILL');
    expect((await child.done).exitCode).toBe(137);
    expect(sink.out).toContain('term 2\n');
  });

  it('reports death by signal as 128+N', async () => {
    const r = await spawnRun('img', memorySink(), { runArgs: [], command: ['die'], bin }).done;
    expect(r.exitCode).toBe(137);
  });
});
