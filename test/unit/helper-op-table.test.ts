/**
 * Node and the helper speak through two tables: the operations of the plan (src/sandbox/plan.ts
 * writes them, native/plan.c's PLAN_OPS parses them) and the records the helper writes back
 * (FLUX_RECORDS in native/flux-helper.h, parseRecord in src/native/helper.ts reads them). An
 * operation or record one side has and the other lacks is a run that fails at its start, or a
 * record dropped in silence; these tests fail first.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTAINER_OPERATIONS, NAMESPACE_OPERATIONS, containerPlan, namespacePlan, type SandboxSpec } from '../../src/sandbox/plan.js';
import { DEFAULT_CAPS } from '../../src/sandbox/caps.js';
import { parseRecord } from '../../src/native/helper.js';
import { REPO_ROOT } from '../helpers/user.js';

const HELPER = join(REPO_ROOT, 'native/build/flux-helper');
const NATIVE = join(REPO_ROOT, 'native');

/** One row per line of the helper's --list-ops or --list-records: its tab-separated columns. */
function helperTable(flag: '--list-ops' | '--list-records'): string[][] {
  accessSync(HELPER, constants.X_OK); // built by `npm run build` (make -C native)
  const out = execFileSync(HELPER, [flag], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((l) => l.split('\t'));
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** Specs that between them make plan.ts emit every operation it can. */
const full: SandboxSpec = {
  userns: true, newNet: true, fullMap: true,
  idmap: { kind: 'full', uid: ['/usr/bin/newuidmap', 'PID', '0', '1000', '1'], gid: ['/usr/bin/newgidmap', 'PID', '0', '1000', '1'] },
  waitGo: true, deferGo: true, tap: 'tap0', netHelper: ['/usr/bin/slirp4netns', 'PID', 'tap0'], runDir: '/r',
  preserveFds: { first: 5, count: 1 }, join: 42,
  rootfs: { kind: 'overlay', root: '/r/root', upper: '/r/upper', work: '/r/work', lowers: ['/l'], userxattr: true, fuse: { bin: '/usr/bin/fuse-overlayfs', only: false, maps: { uid: '0:1000:1', gid: '0:1000:1' } } },
  hostname: 'h', etcFiles: [{ path: '/etc/hosts', content: '' }], volumes: [{ host: '/d', container: '/d', readOnly: false }],
  tmpfs: [{ path: '/t', options: '' }], readOnly: true, privileged: false, caps: new Set(DEFAULT_CAPS), noNewPrivileges: true,
  seccomp: true, uid: 0, gid: 0, groups: [0], rlimits: [{ resource: 7, soft: 1n, hard: 1n }], cwd: '/', env: [], argv: ['sh'], path: '/bin',
  tty: { stdin: true, rows: 24, cols: 80 }, cleanup: '/r',
};
const other: SandboxSpec = { ...full, idmap: { kind: 'single', uid: 1000, gid: 1000 }, rootfs: { kind: 'copy', src: '/c', root: '/r/root' } };

describe('the plan operations', () => {
  const table = helperTable('--list-ops');

  it('are the same on both sides: every operation plan.ts has the helper parses, and no other', () => {
    expect(sorted(table.map(([name]) => name!))).toEqual(sorted([...NAMESPACE_OPERATIONS, ...CONTAINER_OPERATIONS]));
  });

  it('belong to the same part on both sides (the helper refuses one in the wrong part)', () => {
    const part = Object.fromEntries(table.map(([name, p]) => [name!, p]));
    for (const op of NAMESPACE_OPERATIONS) expect([op, part[op]]).toEqual([op, '1']);
    for (const op of CONTAINER_OPERATIONS) expect([op, part[op]]).toEqual([op, '2']);
  });

  it('are the ones plan.ts writes: each list is what its part of the plan emits', () => {
    const first = [full, other].flatMap((s) => namespacePlan(s).map((o) => o[0]!));
    const second = [full, other].flatMap((s) => containerPlan(s, s).map((o) => o[0]!));
    expect(sorted(first)).toEqual(sorted(NAMESPACE_OPERATIONS));
    expect(sorted(second)).toEqual(sorted(CONTAINER_OPERATIONS));
  });
});

describe('the records the helper writes', () => {
  const letters = helperTable('--list-records').map(([letter]) => letter!);

  it('are the ones parseRecord reads, and no other', () => {
    // Every one-character tag, with a body each record takes (C and D want a status).
    const read = [];
    for (let c = 0x20; c < 0x7f; c++) if (parseRecord(`${String.fromCharCode(c)}0`) !== undefined) read.push(String.fromCharCode(c));
    expect(sorted(letters)).toEqual(sorted(read));
  });

  it('are in the table wherever the helper writes one', () => {
    const written = new Set<string>();
    for (const f of readdirSync(NATIVE).filter((n) => n.endsWith('.c'))) {
      for (const m of readFileSync(join(NATIVE, f), 'utf8').matchAll(/\bctl_write\("(.)/g)) written.add(m[1]!);
    }
    expect(written.size).toBeGreaterThan(5);
    expect(sorted(written).filter((l) => !letters.includes(l))).toEqual([]);
  });
});
