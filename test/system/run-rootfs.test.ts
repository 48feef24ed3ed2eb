/**
 * `flux run --rootfs DIR`: a run in an unpacked directory the user owns, as the unprivileged test
 * user, with the run options of an image run; the directory itself is never written.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, removeStore, runAs, runFlux, tempStore, testUser } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

let base: string;
let rootfs: string;
let store: string;

beforeAll(async () => {
  requireTool('newuidmap');
  requireTool('/bin/busybox');
  const user = await testUser();
  store = await tempStore();
  base = await mkdtemp(join(tmpdir(), 'flux-rootfs-'));
  rootfs = join(base, 'root');
  // A minimal root filesystem, made by the user: a static busybox and its applets.
  const script = [
    `mkdir -p ${rootfs}/bin ${rootfs}/etc ${rootfs}/proc ${rootfs}/dev ${rootfs}/sys ${rootfs}/tmp`,
    `cp /bin/busybox ${rootfs}/bin/busybox`,
    `for a in sh cat id echo ls touch; do ln -s busybox ${rootfs}/bin/$a; done`,
    `printf 'root:x:0:0:root:/root:/bin/sh\\n' > ${rootfs}/etc/passwd`,
    `echo plain-file > ${base}/file`,
    `mkdir ${base}/locked && chmod 000 ${base}/locked`,
  ].join(' && ');
  if (isRoot) execFileSync('chown', [`${user.uid}:${user.gid}`, base]);
  const r = await runAs(user, '/bin/sh', ['-c', script]);
  expect(r.stderr).toBe('');
});

afterAll(async () => {
  if (store) await removeStore(store);
  if (base) await rm(base, { recursive: true, force: true });
});

describe('flux run --rootfs DIR', () => {
  it('runs the command in the directory, with run options, and never writes to it', async () => {
    const before = (await readdir(rootfs)).sort();
    const r = await runFlux(['run', '--rootfs', rootfs, '--network', 'none', '-e', 'GREETING=hi', '-w', '/tmp', '--', 'sh', '-c', 'echo $GREETING > /new && cat /new && pwd && id -u'], { store });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hi\n/tmp\n0\n');
    expect(r.code).toBe(0);
    expect((await readdir(rootfs)).sort()).toEqual(before);
    expect(existsSync(join(rootfs, 'new'))).toBe(false);
  });

  it('copies the directory with FLUX_OVERLAY=copy, and still never writes to it', async () => {
    const r = await runFlux(['run', '--rootfs', rootfs, '--network', 'none', '--verbose', '--', 'sh', '-c', 'touch /bin/added && ls /bin/added'], { store, env: { FLUX_OVERLAY: 'copy' } });
    expect(r.stdout).toBe('/bin/added\n');
    expect(r.stderr).toBe('flux: rootfs: copy\n');
    expect(r.code).toBe(0);
    expect(existsSync(join(rootfs, 'bin/added'))).toBe(false);
  });

  it('passes the exit status on', async () => {
    const r = await runFlux(['run', '--rootfs', rootfs, '--network', 'none', '--', 'sh', '-c', 'exit 7'], { store });
    expect(r.code).toBe(7);
  });

  it('refuses a path that is missing, not a directory or unreadable, in one sentence', async () => {
    for (const [path, why] of [[join(base, 'missing'), 'does not exist'], [join(base, 'file'), 'is not a directory'], [join(base, 'locked'), 'is not readable by you']] as const) {
      const r = await runFlux(['run', '--rootfs', path, '--network', 'none', '--', 'true'], { store });
      expect(r.code).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`flux: the root filesystem ${path} ${why}. ${why === 'is not readable by you' ? 'Give --rootfs a directory you can read, or fix its permissions.' : 'Give --rootfs an unpacked root filesystem directory.'}\n`);
    }
  });

  it('refuses a run with neither an image nor --rootfs', async () => {
    const r = await runFlux(['run'], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^flux: flux run needs an image \(or --rootfs DIR\)\./);
  });
});
