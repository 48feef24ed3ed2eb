/**
 * Replacing a directory with a file during an unpack forgets only that directory's subtree: a
 * layer of many directories each replaced by a file costs work linear in its entries, not the
 * N² of rescanning every known directory per replacement. Work is counted, never timed.
 */
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntryWriter, type Header } from '../../store/unpack/entry-writer.js';
import type { LayerFs } from '../../store/unpack/layer-fs.js';
import { PathTree } from '../../store/unpack/path-tree.js';

const N = 200_000;
/** On disk: enough entries that rescanning would show in the count, few enough for a loaded machine. */
const N_FS = 20_000;
const noFs: LayerFs = {
  mknod: () => {
    throw new Error('not used');
  },
  lsetxattr: () => undefined,
  lgetxattr: () => undefined,
};

async function* none(): AsyncIterable<unknown> {}
async function* bytes(s: string): AsyncIterable<unknown> {
  yield Buffer.from(s);
}
const h = (name: string, type: 'directory' | 'file', size = 0): Header =>
  ({ name, type, mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, size, mtime: new Date(0) }) as Header;

describe('PathTree', () => {
  it('drops a subtree and nothing else', () => {
    const t = new PathTree<number>();
    t.set('a', 1).set('a/b', 2).set('a/b/c', 3).set('ab', 4).set('a/x', 5);
    t.deleteTree('a/b');
    expect([...t.entries()].sort()).toEqual([['a', 1], ['a/x', 5], ['ab', 4]]);
    t.deleteTree('a');
    expect([...t.entries()]).toEqual([['ab', 4]]);
    // A value under a path never set itself still goes with its parent.
    t.set('p/q/r', 6);
    t.deleteTree('p');
    expect(t.has('p/q/r')).toBe(false);
  });

  it(`${N} paths each dropped as a subtree: work linear in the paths`, () => {
    const t = new PathTree<true>();
    for (let i = 0; i < N; i++) t.set(`d${i}`, true).set(`d${i}/f`, true);
    for (let i = 0; i < N; i++) t.deleteTree(`d${i}`);
    expect([...t.entries()]).toEqual([]);
    expect(t.steps).toBeLessThanOrEqual(2 * N);
  });
});

describe('EntryWriter, directories replaced by files', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync('/dev/shm/flux-replace-');
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it(`${N_FS} directories each replaced by a file: the files stand, and the forgetting is linear`, async () => {
    const w = new EntryWriter(work, noFs, true, () => undefined);
    for (let i = 0; i < N_FS; i++) await w.entry(h(`d${i}/`, 'directory'), none());
    // Some replaced directories have content, which goes with them.
    for (let i = 0; i < 1000; i++) await w.entry(h(`d${i}/sub/`, 'directory'), none());
    for (let i = 0; i < N_FS; i++) await w.entry(h(`d${i}`, 'file', 2), bytes(`${i % 10}\n`));
    // A name replaced back by a directory is a real directory again, with its own metadata.
    await w.entry(h('d7', 'directory'), none());
    await w.entry(h('d7/g', 'file', 3), bytes('ok\n'));
    w.finish();
    expect(w.forgetSteps).toBeLessThanOrEqual(4 * (N_FS + 1000));
    expect(readdirSync(work).length).toBe(N_FS);
    expect(lstatSync(join(work, 'd0')).isFile()).toBe(true);
    expect(readFileSync(join(work, `d${N_FS - 1}`), 'utf8')).toBe(`${(N_FS - 1) % 10}\n`);
    expect(lstatSync(join(work, 'd7')).isDirectory()).toBe(true);
    expect(lstatSync(join(work, 'd7')).mode & 0o7777).toBe(0o755);
    expect(readFileSync(join(work, 'd7/g'), 'utf8')).toBe('ok\n');
  });
});
