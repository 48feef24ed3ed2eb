/**
 * An image whose `etc` is a symlink to a host directory made flux read that directory's passwd
 * (the symlink was followed on the host while looking up `-u`), so the command got a HOME, uid
 * and gid the host chose. Users come from the image's layers only: every symlink is resolved
 * inside the layer stack, so `etc -> /host/dir` names the image's /host/dir, which it lacks.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayout } from '../../fixtures/hostile/build.mjs';
import { isRoot, removeStore, runFlux, tempStore } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

let work: string;
let hostEtc: string;
let layout: string;
const HOST_HOME = '/flux-host-chosen-home';

beforeAll(async () => {
  requireTool('newuidmap');
  requireTool('busybox', () => readFileSync('/bin/busybox').length > 0, 'the image needs a static busybox');
  work = mkdtempSync('/tmp/flux-etc-link-');
  // The host directory the image's `etc` points at, with a user the image does not have.
  hostEtc = join(work, 'host-etc');
  execFileSync('mkdir', ['-p', hostEtc]);
  writeFileSync(join(hostEtc, 'passwd'), `root:x:0:0:root:/root:/bin/sh\nintruder:x:0:0::${HOST_HOME}:/bin/sh\n`);
  writeFileSync(join(hostEtc, 'group'), 'root:x:0:\n');
  layout = join(work, 'layout');
  await writeLayout(layout, [
    [
      { name: 'bin/', type: 'directory' },
      { name: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    ],
    [{ name: 'etc', type: 'symlink', linkname: hostEtc }],
  ]);
  execFileSync('chmod', ['-R', 'a+rX', work]);
});

afterAll(() => {
  if (work) execFileSync('rm', ['-rf', work]);
});

const modes = isRoot ? (['user', 'root'] as const) : (['user'] as const);

describe('an image etc symlinked to a host directory', () => {
  for (const mode of modes) {
    it(`as ${mode}: -u names a user of the host directory's passwd and is refused as unknown`, async () => {
      const asUser = mode === 'user';
      const store = await tempStore(asUser ? undefined : 'root');
      try {
        const pulled = await runFlux(['pull', '-q', `oci:${layout}`], { store, asUser });
        expect(pulled.stderr).toBe('');
        expect(pulled.code).toBe(0);
        const r = await runFlux(['run', '--network', 'none', '-u', 'intruder', `oci:${layout}`, '--', 'sh', '-c', 'echo "$HOME"'], { store, asUser });
        expect(r.stdout).not.toContain(HOST_HOME);
        expect(r.code).toBe(125);
        expect(r.stderr).toContain('no user named "intruder" in the image\'s /etc/passwd');
      } finally {
        await removeStore(store);
      }
    }, 60_000);
  }
});
