/**
 * A cold pull gives the store's tmp/ ext4's TOPDIR attribute as soon as its first request is out,
 * while the registry answers, not once the image config has arrived: the first layer's unpack
 * directory is then made without waiting for the helper that sets it (src/layers/spread-dirs.ts).
 * Here the registry holds the config back until the attribute is seen; on a file system without
 * the attribute the pull must simply work.
 */
import { existsSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { FS_TOPDIR_FL, inodeFlags, isExt } from '../helpers/inode-flags.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let fx: FixtureSummary;
let hold = false;
let held = false;
let release: (() => void) | undefined;

beforeAll(async () => {
  fx = await fixtureInfo('busybox');
  reg = await startRegistry({
    // The config blob is answered only once released: until then no unpack session can start.
    intercept: async (req: http.IncomingMessage, _res: http.ServerResponse) => {
      if (!hold || req.method !== 'GET' || !req.url?.includes(`/blobs/${fx.config}`)) return false;
      held = true;
      await new Promise<void>((r) => (release = r));
      return false;
    },
  });
  await pushFixtures(reg, ['busybox']);
});

afterAll(async () => {
  release?.();
  await reg?.stop();
});

describe('a cold pull', () => {
  it('gives the store\'s tmp/ its TOPDIR attribute before the image config has arrived', async () => {
    const store = await tempStore();
    try {
      hold = true;
      held = false;
      const pull = runFlux(['pull', '-q', `${reg.host}/busybox`], { store, timeoutMs: 60_000 });
      const tmp = join(store, 'tmp');
      const deadline = Date.now() + 15_000;
      while (!held) {
        if (Date.now() > deadline) break;
        await sleep(10);
      }
      expect(held).toBe(true);
      if (isExt(store)) {
        while (!(existsSync(tmp) && (inodeFlags(tmp) & FS_TOPDIR_FL) !== 0)) {
          if (Date.now() > deadline) break;
          await sleep(10);
        }
        // Still waiting for its config, so no unpack has begun.
        expect(existsSync(tmp) && inodeFlags(tmp) & FS_TOPDIR_FL).toBe(FS_TOPDIR_FL);
      }
      hold = false;
      release!();
      const r = await pull;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(fx.digest);
    } finally {
      hold = false;
      release?.();
      await removeStore(store);
    }
  }, 90_000);
});
