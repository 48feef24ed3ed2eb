/**
 * The working directory (-w or the image's WorkingDir) is looked up inside the container's root
 * after pivot_root, without following magic links, and entered by its fd: a path through
 * /dev/fd/N, /proc/self/cwd or /proc/1/root, or an image symlink to /proc/self/fd/N, can never
 * put the command outside the root (once, -w /dev/fd/6 put it in flux's own files layer, an fd
 * init still held). Such a directory is refused in one sentence with exit 125; an ordinary
 * missing one is made, as before. Rootless and as real root.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { busyboxWith } from '../helpers/image-layer.js';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore, isRoot } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

/** Prints where the command is, and whether that is the directory its own root names so. */
const WHERE = 'd=$(pwd -P); if [ -n "$d" ] && [ "$(stat -c %d:%i "$d")" = "$(stat -c %d:%i .)" ]; then echo "inside $d"; else echo "outside [$d]"; ls; fi';
const REFUSED = /^flux: the working directory \S+ (leads through a \/proc link|cannot be entered|is not a directory|is a file-descriptor path)[^\n]*\n$/;

let busybox: string;
let fdImage: string;
let linkImage: string;

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox']);
  busybox = `oci:${await userFixtureDir('busybox')}`;
  fdImage = await busyboxWith([{ name: 'fdlink', type: 'symlink', linkname: '/proc/self/fd/6' }], (c) => {
    c.config = { ...(c.config ?? {}), WorkingDir: '/fdlink' };
  });
  linkImage = await busyboxWith([{ name: 'srv', type: 'directory' }, { name: 'work', type: 'symlink', linkname: '/srv' }], (c) => {
    c.config = { ...(c.config ?? {}), WorkingDir: '/work' };
  });
});

afterAll(async () => {
  for (const dir of [fdImage, linkImage]) if (dir) await rm(dir, { recursive: true, force: true });
});

const MODES = [
  { mode: 'rootless', root: false },
  { mode: 'real root', root: true },
] as const;

for (const { mode, root } of MODES) {
  describe.skipIf(root && !isRoot)(`working directory resolved inside the root (${mode})`, () => {
    let store: string;
    const flux = (args: string[]) => runFlux(args, { store, asUser: !root && isRoot });
    beforeAll(async () => {
      store = await tempStore(root ? 'root' : undefined);
      for (const ref of [busybox, `oci:${fdImage}`, `oci:${linkImage}`]) {
        const r = await flux(['pull', '-q', ref]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
    });
    afterAll(async () => {
      if (store) await removeStore(store);
    });

    const magic = [...Array.from({ length: 18 }, (_, i) => `/dev/fd/${i + 3}`), '/proc/self/cwd', '/proc/1/root'];
    it.each(magic)('-w %s is refused in one sentence, the command never runs', async (w) => {
      const r = await flux(['run', '--network', 'none', '-w', w, busybox, '--', 'sh', '-c', WHERE]);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(REFUSED);
      expect(r.code).toBe(125);
    });

    it('refuses an image WorkingDir that is a symlink to /proc/self/fd/6', async () => {
      const r = await flux(['run', '--network', 'none', `oci:${fdImage}`, '--', 'sh', '-c', WHERE]);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(REFUSED);
      expect(r.code).toBe(125);
    });

    it('follows an image WorkingDir symlink that stays inside the image', async () => {
      const r = await flux(['run', '--network', 'none', `oci:${linkImage}`, '--', 'sh', '-c', WHERE]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('inside /srv\n');
      expect(r.code).toBe(0);
    });

    it('still makes a missing working directory', async () => {
      const r = await flux(['run', '--network', 'none', '-w', '/made/by/flux', busybox, '--', 'sh', '-c', WHERE]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('inside /made/by/flux\n');
      expect(r.code).toBe(0);
    });
  });
}
