/**
 * An image whose /proc, /sys or /dev is a symlink led the container's proc (or sysfs, or its
 * /dev) to wherever the symlink pointed: the masks and read-only paths, looked up at /proc
 * afterwards, found nothing there and were skipped, so the container saw /proc/keys and
 * /sys/firmware and, as real root, could write the host's /proc/sys/kernel/core_pattern (a
 * program the host kernel runs as root). flux follows no symlink of the image in /proc, /sys or
 * /dev: such an image is refused in one sentence, in every root kind, rootless and as real root.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { busyboxWith } from '../helpers/image-layer.js';
import { runFlux, tempStore, removeStore, isRoot } from '../helpers/user.js';
import { needFuse, requireTool } from '../helpers/require.js';

const IMAGES = {
  // proc and sys through a second symlink under a /dev the run's own tmpfs then covers.
  'proc and sys through /dev': [
    { name: 'proc', type: 'symlink', linkname: '/dev/p' },
    { name: 'sys', type: 'symlink', linkname: '/dev/s' },
    { name: 'dev', type: 'directory' },
    { name: 'dev/p', type: 'symlink', linkname: '/hp' },
    { name: 'dev/s', type: 'symlink', linkname: '/hs' },
    { name: 'hp', type: 'directory' },
    { name: 'hs', type: 'directory' },
  ],
  'proc elsewhere': [
    { name: 'proc', type: 'symlink', linkname: 'elsewhere' },
    { name: 'elsewhere', type: 'directory' },
  ],
  'dev elsewhere': [
    { name: 'dev', type: 'symlink', linkname: '/fakedev' },
    { name: 'fakedev', type: 'directory' },
  ],
} as const;
const EXPECTED: Record<keyof typeof IMAGES, RegExp> = {
  'proc and sys through /dev': /^flux: the image has a symlink at \/proc or on the way to it, where flux mounts the container's own proc, sys or dev, and flux mounts through none\. Use an image whose \/proc, \/sys and \/dev are plain directories \(or absent\)\.\n$/,
  'proc elsewhere': /^flux: the image has a symlink at \/proc or on the way to it/,
  'dev elsewhere': /^flux: the image has a symlink at \/dev or on the way to it/,
};

const SCRIPT = 'cat /proc/sys/kernel/core_pattern; wc -c < /proc/keys; ls /sys/firmware; echo THE-COMMAND-RAN';
const dirs: Record<string, string> = {};


beforeAll(async () => {
  requireTool('newuidmap');
  for (const [name, entries] of Object.entries(IMAGES)) dirs[name] = await busyboxWith([...entries]);
}, 300_000);

afterAll(async () => {
  for (const d of Object.values(dirs)) await rm(d, { recursive: true, force: true });
});

for (const { mode, asUser } of [{ mode: 'rootless', asUser: true }, ...(isRoot ? [{ mode: 'real root', asUser: false }] : [])]) {
  describe(`/proc, /sys and /dev through image symlinks (${mode})`, () => {
    let store: string;
    beforeAll(async () => {
      store = await tempStore(asUser ? undefined : 'root');
      for (const d of Object.values(dirs)) {
        const r = await runFlux(['pull', '-q', `oci:${d}`], { store, asUser: asUser && isRoot });
        expect(r.code, r.stderr).toBe(0);
      }
    }, 300_000);
    afterAll(async () => {
      if (store) await removeStore(store);
    });

    describe.each(['native', 'fuse', 'copy'] as const)('root kind %s', (kind) => {
      it.each(Object.keys(IMAGES) as (keyof typeof IMAGES)[])('refuses %s, before the command runs', async (name) => {
        if (kind === 'fuse') needFuse();
        const r = await runFlux(['run', '--network', 'none', `oci:${dirs[name]}`, '--', 'sh', '-c', SCRIPT], { store, asUser: asUser && isRoot, env: { FLUX_OVERLAY: kind } });
        expect([r.code, r.stdout]).toEqual([125, '']);
        expect(r.stderr).toMatch(EXPECTED[name]);
      });
    });
  });
}
