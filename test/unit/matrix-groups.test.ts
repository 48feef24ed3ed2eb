import { describe, expect, it } from 'vitest';
import { groupLines, groupOutcomes } from '../../src/matrix/groups.js';
import { jsonResults } from '../../src/matrix/format.js';
import { captureOutput } from '../../src/matrix/capture.js';
import { collectImages } from '../../src/matrix/images.js';
import type { Entry } from '../../src/matrix/types.js';

async function ran(ref: string, exitCode: number, stdout: string): Promise<Entry> {
  const [image] = collectImages([ref]);
  const e: Entry = { image: image!, phase: exitCode === 0 ? 'passed' : 'failed', exitCode, phaseSince: 0, durationMs: 5 };
  const sink = captureOutput(e, { stdout: () => undefined, stderr: () => undefined, close: async () => undefined });
  sink.stdout(Buffer.from(stdout));
  await sink.close(exitCode);
  return e;
}

function notRun(ref: string): Entry {
  const [image] = collectImages([ref]);
  return { image: image!, phase: 'skipped', exitCode: null, phaseSince: 0, durationMs: 0 };
}

describe('grouping by outcome', () => {
  it('groups by exit code and stdout, the largest first, ties in list order', async () => {
    const es = [
      await ran('a', 0, 'v2\n'),
      await ran('b', 0, 'v1\n'),
      await ran('c', 0, 'v2\n'),
      await ran('d', 1, 'v2\n'),
      notRun('e'),
    ];
    const groups = groupOutcomes(es);
    expect(groups.map((g) => g.entries.map((e) => e.image.ref))).toEqual([['a', 'c'], ['b'], ['d'], ['e']]);
    expect(groups.map((g) => g.number)).toEqual([1, 2, 3, 4]);
    expect(jsonResults(es).map((r) => r.group)).toEqual([1, 2, 1, 3, 4]);
  });

  it('gives the same numbers to the same results whatever order they finished in', async () => {
    const es = [await ran('x', 0, 'same'), await ran('y', 0, 'other'), await ran('z', 0, 'same')];
    expect(jsonResults(es).map((r) => r.group)).toEqual(jsonResults(es).map((r) => r.group));
    expect(jsonResults(es).map((r) => r.group)).toEqual([1, 2, 1]);
  });

  it('prints a line per group naming the first differing stdout line, only when outcomes differ', async () => {
    const same = [await ran('a', 0, 'hello\n'), await ran('b', 0, 'hello\n')];
    expect(groupLines(same)).toBe('');
    const es = [await ran('debian:12', 0, 'tool 1.2\nok\n'), await ran('alpine', 0, 'tool 1.2\nok\n'), await ran('debian:11', 0, 'tool 1.1\nok\n')];
    const text = groupLines(es);
    expect(text).toContain('2 outcomes:');
    expect(text).toContain('group 1: 2 images behave alike: exit 0: debian:12, alpine');
    expect(text).toContain('group 2: 1 image: exit 0, different stdout: debian:11');
    expect(text).toContain('stdout differs at line 1: "tool 1.1" (group 1: "tool 1.2")');
  });

  it('escapes hostile output and names in the group lines', async () => {
    const es = [await ran('a', 0, 'x\n'), await ran('a2', 0, 'x\n'), await ran('evil', 0, 'y\u009b\u202e\n')];
    es[2]!.image = { ...es[2]!.image, ref: 'evil\u001b[2J' };
    const text = groupLines(es);
    expect(text).not.toMatch(/[\u001b\u009b\u202e]/);
    expect(text).toContain('evil\\x1b[2J');
  });
});
