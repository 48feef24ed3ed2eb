/**
 * The container's pid 1 is flux's helper, and /proc/1/cmdline is readable by every process of
 * the container, whatever its user. It showed the helper's arguments: the run's plan, with the
 * host paths of the store, the layers, the volumes and the runtime directory, and the id maps.
 * Init wipes them once the command has started: pid 1 reads as "flux-init", foreground and
 * detached, rootless and as real root.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../helpers/containers.js';
import { userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore, isRoot } from '../helpers/user.js';

/** pid 1's command line as a list of its non-empty strings, read by a non-root user inside. */
const READ = 'tr "\\000" "\\n" < /proc/1/cmdline | grep -v "^$"; echo END';

for (const asUser of isRoot ? [true, false] : [false]) {
  describe(`pid 1's command line ${asUser || !isRoot ? 'rootless' : 'as real root'}`, () => {
    let store: string;
    let runtime: string;
    let image: string;

    beforeAll(async () => {
      store = await tempStore(asUser || !isRoot ? undefined : 'root');
      runtime = await mkdtemp(join(tmpdir(), 'flux-cmdline-run-'));
      await chmod(runtime, 0o777);
      image = `oci:${await userFixtureDir('busybox')}`;
      const pulled = await runFlux(['pull', '-q', image], { store, asUser });
      expect(pulled.code, pulled.stderr).toBe(0);
    }, 300_000);

    afterAll(async () => {
      if (store) await removeStore(store);
      if (runtime) await rm(runtime, { recursive: true, force: true });
    });

    it('names no host path: it reads "flux-init", for a foreground run', async () => {
      const r = await runFlux(['run', '--network', 'none', '-u', '1000:1000', '-v', `${runtime}:/data:ro`, image, '--', 'sh', '-c', READ], { store, asUser });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('flux-init\nEND\n');
    });

    it('and for a detached container', async () => {
      const env = { XDG_RUNTIME_DIR: join(runtime, 'xdg') };
      const started = await runFlux(['run', '-d', '--network', 'none', image, '--', 'sh', '-c', `${READ}; sleep 30`], { store, asUser, env });
      expect(started.code, started.stderr).toBe(0);
      const id = started.stdout.trim();
      const logs = await until('the container to have read pid 1', async () => (await runFlux(['logs', id], { store, asUser, env })).stdout, (t) => t.includes('END'));
      expect((await runFlux(['rm', '-f', id], { store, asUser, env })).code).toBe(0);
      expect(logs).toBe('flux-init\nEND\n');
    });
  });
}
