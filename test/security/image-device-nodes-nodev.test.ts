/**
 * Device nodes an image brings never work: a layer may carry a character or block device with
 * any numbers (the host disk's, /dev/mem's), which a container run as real root could otherwise
 * open. The root filesystem is nodev in every root kind (native overlay, fuse-overlayfs, copy);
 * the container's own /dev is a separate mount whose few host devices work as before.
 * Rootless runs cannot create device nodes at all (and user-namespace mounts are nodev anyway),
 * so this is a real-root test.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { accessSync, constants } from 'node:fs';
import { rm } from 'node:fs/promises';
import { busyboxWith } from '../helpers/image-layer.js';
import { runFlux, tempStore, removeStore, isRoot } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

let store: string;
let image: string;

// /dev/zero's numbers (1:5): harmless if it did open, and easy to tell apart when it does.
const SCRIPT = [
  'stat -c "%F %t:%T" /zero-dev /dir/zero-dev',
  'for d in /zero-dev /dir/zero-dev; do if head -c 4 $d > /dev/null 2>/tmp/err; then echo "$d opened"; else echo "$d refused: $(cat /tmp/err)"; fi; done',
  'head -c 4 /dev/zero | od -An -tx1',
].join('; ');

describe.skipIf(!isRoot)('device nodes of the image do not work (real root)', () => {
  beforeAll(async () => {
    store = await tempStore('root');
    image = await busyboxWith([
      { name: 'zero-dev', type: 'character-device', devmajor: 1, devminor: 5, mode: 0o666 },
      { name: 'dir', type: 'directory' },
      { name: 'dir/zero-dev', type: 'character-device', devmajor: 1, devminor: 5, mode: 0o666 },
    ]);
    const r = await runFlux(['pull', '-q', `oci:${image}`], { store, asUser: false });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
  afterAll(async () => {
    if (store) await removeStore(store);
    if (image) await rm(image, { recursive: true, force: true });
  });

  it.each(['native', 'fuse', 'copy'] as const)('root kind %s: the node is there but refuses to open; /dev/zero works', async (kind) => {
    if (kind === 'fuse') {
      requireTool('fuse-overlayfs');
      requireTool('/dev/fuse', () => {
        accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
        return true;
      });
    }
    const r = await runFlux(['run', '--network', 'none', `oci:${image}`, '--', 'sh', '-c', SCRIPT], { store, asUser: false, env: { FLUX_OVERLAY: kind } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim());
    expect(lines.slice(0, 2)).toEqual(['character special file 1:5', 'character special file 1:5']);
    expect(lines[2]).toMatch(/^\/zero-dev refused: .*(Permission denied|Operation not permitted)/);
    expect(lines[3]).toMatch(/^\/dir\/zero-dev refused: .*(Permission denied|Operation not permitted)/);
    expect(lines[4]).toBe('00 00 00 00');
  });
});
