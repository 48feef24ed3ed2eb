/**
 * The hostile layer set (fixtures/hostile): every entry that tries to write outside its layer
 * is refused with a clear message or contained in the layer directory, as real root
 * (in-process unpack) and as the unprivileged user (worker in the user namespace). The canary
 * directory they aim at is world-writable, so an escape would succeed if flux allowed one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attempt, makeCanary } from '../../fixtures/hostile/attempt.mjs';
import { hostileCases } from '../../fixtures/hostile/build.mjs';
import { appDir, isRoot, removeStore, tempStore, testUser } from '../helpers/user.js';

let canary: string;
let work: string;

beforeAll(() => {
  canary = makeCanary();
  work = mkdtempSync('/tmp/flux-hostile-');
  execFileSync('chmod', ['a+rx', work]);
});
afterAll(() => {
  execFileSync('rm', ['-rf', work, canary, `${canary}-sibling`]);
});

for (const mode of ['root', 'user'] as const) {
  describe.skipIf(!isRoot)(`hostile layers, unpacked as ${mode === 'root' ? 'real root' : 'the unprivileged user'}`, () => {
    for (const hostile of hostileCases('/tmp/flux-canary-PLACEHOLDER')) {
      it(`${hostile.name}: ${hostile.expect}${hostile.cve ? ` (${hostile.cve})` : ''}`, async () => {
        const c = hostileCases(canary).find((h) => h.name === hostile.name)!;
        const user = mode === 'user' ? await testUser() : undefined;
        const store = await tempStore(mode === 'user' ? user : 'root');
        try {
          const r = await attempt(c, { canary, store, work, appDir: await appDir(), user: user?.name });
          r.cleanup();
          expect(r.canaryChanges).toEqual([]);
          expect(r.siblingCreated).toBe(false);
          expect(r.aimedAtExisting).toEqual([]);
          if (c.expect === 'refused') {
            expect(r.ok).toBe(false);
            expect(r.error.code).toBe('LAYER_REFUSED');
            expect(r.error.message).toMatch(c.refusal);
            expect(r.error.message).toMatch(/^the layer sha256:[0-9a-f]{12} has an entry .*; flux refuses to unpack it\.$/);
            expect(r.error.hint).toMatch(/malformed or hostile/);
            expect(r.storeLayers).toEqual([]);
            expect(r.storeTmp).toEqual([]);
          } else {
            expect(r.error).toBeUndefined();
            expect(r.ok).toBe(true);
            expect(r.landed).toEqual(c.landsAt);
          }
        } finally {
          await removeStore(store);
        }
      }, 60_000);
    }
  });
}
