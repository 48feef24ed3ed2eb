/**
 * The hostile layers as a user meets them: pushed to a registry like any image and pulled with
 * `flux pull` as the unprivileged user. A refused image fails with one sentence naming the
 * entry and a non-zero exit, never a stack trace, and leaves no layer in the store; nothing is
 * written in the canary directory the entries aim at.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffSnapshots, makeCanary, snapshot } from '../../fixtures/hostile/attempt.mjs';
import { hostileCases, writeLayout } from '../../fixtures/hostile/build.mjs';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { isRoot, removeStore, runFlux, tempStore } from '../helpers/user.js';

const run = promisify(execFile);
let canary: string;
let work: string;
let reg: Registry | undefined;

beforeAll(async () => {
  if (!isRoot || !requireTool('skopeo') || !requireTool('docker-registry', () => existsSync('/usr/bin/docker-registry'))) return;
  canary = makeCanary();
  work = mkdtempSync('/tmp/flux-hostile-pull-');
  execFileSync('chmod', ['a+rx', work]);
  reg = await startRegistry();
  for (const h of hostileCases(canary)) {
    const layout = join(work, h.name);
    await writeLayout(layout, h.layers);
    await run('skopeo', ['--insecure-policy', 'copy', '--preserve-digests', '--dest-tls-verify=false',
      `oci:${layout}:latest`, `docker://${reg.directHost}/hostile/${h.name}:latest`], { timeout: 60_000 });
  }
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  if (work) execFileSync('rm', ['-rf', work, canary, `${canary}-sibling`]);
});

describe.skipIf(!isRoot)('flux pull of hostile images from a registry', () => {
  for (const h of hostileCases('/tmp/flux-canary-PLACEHOLDER')) {
    it(`${h.name}: ${h.expect}`, async () => {
      const c = hostileCases(canary).find((x) => x.name === h.name)!;
      const store = await tempStore();
      const before = snapshot(canary);
      try {
        const r = await runFlux(['pull', `${reg!.host}/hostile/${c.name}`], { store, timeoutMs: 60_000 });
        expect(diffSnapshots(before, snapshot(canary))).toEqual([]);
        expect(r.stderr).not.toMatch(/^\s+at /m);
        const layerDirs = (existsSync(join(store, 'layers', 'sha256')) ? readdirSync(join(store, 'layers', 'sha256')) : []).filter((n) => /^[0-9a-f]{64}$/.test(n));
        if (c.expect === 'refused') {
          expect(r.code).not.toBe(0);
          expect(r.stderr).toMatch(/flux: the layer sha256:[0-9a-f]{12} has an entry .* flux refuses to unpack it\./);
          expect(r.stderr).toMatch(c.refusal);
          expect(layerDirs.length).toBeLessThan(c.layers.length);
        } else {
          expect(r.stderr).not.toMatch(/refuses/);
          expect(r.code).toBe(0);
          expect(layerDirs).toHaveLength(c.layers.length);
        }
      } finally {
        await removeStore(store);
      }
    }, 90_000);
  }
});
