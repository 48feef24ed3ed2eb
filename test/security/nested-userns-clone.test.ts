/**
 * Nested user namespaces through clone and clone3: the seccomp filter refused unshare and setns,
 * but a static program calling clone(CLONE_NEWUSER) or clone3 with CLONE_NEWUSER got a user
 * namespace (and a full capability set in it) inside the container. clone with any namespace
 * flag now fails with EPERM and clone3 with ENOSYS (libc falls back to clone), so fork and
 * threads still work. Rootless and as real root.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore, isRoot, REPO_ROOT } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

let probeDir: string;
let busybox: string;
const stores: Record<'rootless' | 'root', string> = { rootless: '', root: '' };

const REFUSED = ['clone-newuser EPERM', 'clone-newns EPERM', 'clone3-newuser ENOSYS', 'fork ok', 'thread ok'];

beforeAll(async () => {
  requireTool('newuidmap');
  requireTool('cc', undefined, 'builds the static clone probe');
  requireTool('real root', () => isRoot, 'the probe also runs in a container of real root');
  probeDir = await mkdtemp(join(tmpdir(), 'flux-clone-probe-'));
  await chmod(probeDir, 0o755);
  execFileSync('cc', ['-static', '-O1', '-pthread', '-o', join(probeDir, 'probe'), join(REPO_ROOT, 'test/support/clone-probe.c')]);
  busybox = `oci:${await userFixtureDir('busybox')}`;
  stores.rootless = await tempStore();
  stores.root = await tempStore('root');
  expect((await runFlux(['pull', '-q', busybox], { store: stores.rootless })).code).toBe(0);
  expect((await runFlux(['pull', '-q', busybox], { store: stores.root, asUser: false })).code).toBe(0);
}, 300_000);

afterAll(async () => {
  for (const s of Object.values(stores)) if (s) await removeStore(s);
  if (probeDir) await rm(probeDir, { recursive: true, force: true });
});

const probe = (mode: 'rootless' | 'root', extra: string[] = []) =>
  runFlux(['run', '--network', 'none', ...extra, '-v', `${probeDir}:/probe:ro`, busybox, '--', '/probe/probe'], {
    store: stores[mode],
    asUser: mode === 'rootless',
  });

describe.each(['rootless', 'root'] as const)('no nested namespaces through clone or clone3 (%s)', (mode) => {
  it('refuses clone with a namespace flag (EPERM) and clone3 (ENOSYS); fork and threads work', async () => {
    const r = await probe(mode);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(REFUSED);
  });

  it('runs a shell with subshells and pipes (fork through the clone fallback)', async () => {
    const r = await runFlux(['run', '--network', 'none', busybox, '--', 'sh', '-c', '(echo sub); echo piped | cat; unshare -U true || echo refused'], {
      store: stores[mode],
      asUser: mode === 'rootless',
    });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['sub', 'piped', 'refused']);
  });
});

describe('the probe itself', () => {
  it('creates a user namespace through clone and clone3 without the filter (so the refusals above are the filter\'s)', async () => {
    const r = await probe('rootless', ['--security-opt', 'seccomp=unconfined']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('clone-newuser ok');
    expect(lines).toContain('clone3-newuser ok');
  });
});
