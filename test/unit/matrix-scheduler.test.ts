import { describe, expect, it } from 'vitest';
import { Matrix, type MatrixDeps } from '../../src/matrix/scheduler.js';
import { collectImages } from '../../src/matrix/images.js';
import { FluxError } from '../../src/errors.js';
import type { ExitStatus, OutputSink, RunningChild } from '../../src/matrix/types.js';

/** A fake run: ends with `code` after `ms`, or with 143 when signalled. */
interface FakeSpec {
  code: number;
  ms: number;
  out?: string;
}

function fakeDeps(specs: Record<string, FakeSpec>, opts: { pullFails?: string; needsPull?: string[] } = {}) {
  let active = 0;
  let maxActive = 0;
  const started: string[] = [];
  const signalled: string[] = [];
  const closed = new Map<string, number | null>();
  const output = new Map<string, string>();
  const deps: MatrixDeps = {
    async prepare(image, pulling) {
      if (opts.needsPull?.includes(image.ref)) pulling();
      await new Promise((r) => setTimeout(r, 1));
      if (image.ref === opts.pullFails) throw new FluxError('X', `no such image ${image.ref}.`, { hint: 'Check the name.', exitCode: 125 });
      return `sha256:${'a'.repeat(64)}`;
    },
    run(image, sink): RunningChild {
      const spec = specs[image.ref]!;
      started.push(image.ref);
      active++;
      maxActive = Math.max(maxActive, active);
      let finish!: (s: ExitStatus) => void;
      const done = new Promise<ExitStatus>((r) => (finish = r));
      if (spec.out) sink.stdout(Buffer.from(spec.out));
      const t = setTimeout(() => {
        active--;
        finish({ exitCode: spec.code });
      }, spec.ms);
      return {
        done,
        signal(sig) {
          signalled.push(`${image.ref}:${sig}`);
          clearTimeout(t);
          active--;
          finish({ exitCode: 143 });
        },
      };
    },
    sink(entry): OutputSink {
      let text = '';
      return {
        stdout: (c) => void (text += c.toString()),
        stderr: (c) => void (text += c.toString()),
        async close(code, error) {
          closed.set(entry.image.ref, code);
          output.set(entry.image.ref, text + (error ?? ''));
        },
      };
    },
  };
  return { deps, started, signalled, closed, output, maxActive: () => maxActive };
}

describe('matrix scheduler', () => {
  it('runs every image, keeps the given order in results, and gives verdicts from exit codes', async () => {
    const f = fakeDeps({ a: { code: 0, ms: 20, out: 'hi\n' }, b: { code: 3, ms: 5 }, c: { code: 0, ms: 1 } });
    const m = new Matrix(collectImages(['a', 'b', 'c']), f.deps, { jobs: 3, pullJobs: 3, failFast: false });
    const entries = await m.run();
    expect(entries.map((e) => [e.image.ref, e.phase, e.exitCode])).toEqual([
      ['a', 'passed', 0],
      ['b', 'failed', 3],
      ['c', 'passed', 0],
    ]);
    expect(entries.every((e) => e.digest === `sha256:${'a'.repeat(64)}`)).toBe(true);
    expect(f.output.get('a')).toBe('hi\n');
    expect(f.closed.get('b')).toBe(3);
  });

  it('never runs more than -j at once', async () => {
    const specs: Record<string, FakeSpec> = {};
    const names = Array.from({ length: 9 }, (_, i) => `img${i}`);
    for (const n of names) specs[n] = { code: 0, ms: 10 };
    const f = fakeDeps(specs);
    await new Matrix(collectImages(names), f.deps, { jobs: 2, pullJobs: 4, failFast: false }).run();
    expect(f.started.length).toBe(9);
    expect(f.maxActive()).toBe(2);
  });

  it('with fail-fast stops running children and skips the rest at the first failure', async () => {
    const f = fakeDeps({ slow: { code: 0, ms: 5000 }, bad: { code: 1, ms: 5 }, later1: { code: 0, ms: 1 }, later2: { code: 0, ms: 1 } });
    const changes: string[] = [];
    const m = new Matrix(collectImages(['slow', 'bad', 'later1', 'later2']), f.deps, {
      jobs: 2,
      pullJobs: 4,
      failFast: true,
      onChange: (e) => changes.push(`${e.image.ref}:${e.phase}`),
    });
    const entries = await m.run();
    expect(entries.map((e) => e.phase)).toEqual(['skipped', 'failed', 'skipped', 'skipped']);
    expect(f.signalled).toEqual(['slow:SIGTERM']);
    expect(f.started).toEqual(['slow', 'bad']);
    expect(changes).toContain('bad:failed');
  });

  it('without fail-fast a failure does not stop the others', async () => {
    const f = fakeDeps({ bad: { code: 1, ms: 1 }, x: { code: 0, ms: 10 }, y: { code: 0, ms: 1 } });
    const entries = await new Matrix(collectImages(['bad', 'x', 'y']), f.deps, { jobs: 1, pullJobs: 1, failFast: false }).run();
    expect(entries.map((e) => e.phase)).toEqual(['failed', 'passed', 'passed']);
    expect(f.signalled).toEqual([]);
  });

  it('a failed pull fails that image with the pull sentence and does not run it', async () => {
    const f = fakeDeps({ good: { code: 0, ms: 1 }, missing: { code: 0, ms: 1 } }, { pullFails: 'missing', needsPull: ['missing'] });
    const phases: string[] = [];
    const entries = await new Matrix(collectImages(['good', 'missing']), f.deps, {
      jobs: 2,
      pullJobs: 2,
      failFast: false,
      onChange: (e) => phases.push(`${e.image.ref}:${e.phase}`),
    }).run();
    expect(entries[1]).toMatchObject({ phase: 'failed', exitCode: null, error: 'no such image missing. Check the name.' });
    expect(f.started).toEqual(['good']);
    expect(phases).toContain('missing:pulling');
    expect(phases).not.toContain('good:pulling');
    expect(f.output.get('missing')).toContain('no such image');
  });

  it('interrupt() (Ctrl-C) signals the runs under way, marks them interrupted and the rest skipped', async () => {
    const f = fakeDeps({ a: { code: 0, ms: 5000 }, b: { code: 0, ms: 5000 }, c: { code: 0, ms: 1 } });
    const m = new Matrix(collectImages(['a', 'b', 'c']), f.deps, { jobs: 2, pullJobs: 3, failFast: false });
    const run = m.run();
    // Stop once a and b run (c waits for a slot), however long a loaded machine takes to get there.
    while (f.started.length < 2) await new Promise((r) => setTimeout(r, 5));
    m.interrupt('SIGINT');
    const entries = await run;
    expect(f.signalled.sort()).toEqual(['a:SIGINT', 'b:SIGINT']);
    expect(entries.map((e) => e.phase)).toEqual(['interrupted', 'interrupted', 'skipped']);
    expect(entries[2]!.note).toBe('not run: the matrix was interrupted');
  });

  it('kill() sends SIGKILL to the runs under way, and a pull in progress is not waited for', async () => {
    const f = fakeDeps({ a: { code: 0, ms: 60_000 }, b: { code: 0, ms: 1 } });
    const prepare = f.deps.prepare;
    // b's pull never ends.
    f.deps.prepare = (image, pulling) => (image.ref === 'b' ? new Promise(() => pulling()) : prepare(image, pulling));
    const m = new Matrix(collectImages(['a', 'b']), f.deps, { jobs: 2, pullJobs: 2, failFast: false });
    const run = m.run();
    while (f.started.length === 0) await new Promise((r) => setTimeout(r, 5));
    m.kill();
    const entries = await run;
    expect(f.signalled).toEqual(['a:SIGKILL']);
    expect(entries.map((e) => e.phase)).toEqual(['interrupted', 'skipped']);
  });
});
