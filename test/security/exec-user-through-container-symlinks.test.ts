/**
 * `flux exec -u USER` looks USER up in the running container's /etc/passwd and /etc/group. It
 * read them at /proc/PID/root/etc/passwd, where an absolute symlink the container planted
 * (`/etc/passwd -> /some/host/file`) was resolved in flux's own root, the host's: a host file the
 * container cannot read (as real root, one only root may read) was parsed and its uid, gid and
 * home handed to the command. The files are now resolved inside the container's root, as run
 * resolves them inside the image: the symlink leads into the container, where there is no such
 * file, and the user is unknown.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { until } from '../helpers/containers.js';
import { userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore, isRoot, userRuntimeDir } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

let secretDir: string;
let secret: string;

beforeAll(async () => {
  requireTool('newuidmap');
  // A host file outside every container, readable by the test user (and by root).
  secretDir = await mkdtemp('/tmp/flux-exec-secret-');
  await chmod(secretDir, 0o755);
  secret = join(secretDir, 'passwd');
  await writeFile(secret, 'victim:x:4242:4343::/SECRET-HOME-FROM-THE-HOST:/bin/sh\n');
  await chmod(secret, 0o644);
});

afterAll(async () => {
  if (secretDir) await rm(secretDir, { recursive: true, force: true });
});

for (const { mode, asUser } of [{ mode: 'rootless', asUser: true }, ...(isRoot ? [{ mode: 'real root', asUser: false }] : [])]) {
  describe(`flux exec -u through a container's symlinked /etc/passwd (${mode})`, () => {
    let store: string;
    let runtime: string;
    let image: string;
    const env = () => ({ XDG_RUNTIME_DIR: runtime });

    beforeAll(async () => {
      store = await tempStore(asUser ? undefined : 'root');
      runtime = asUser ? await userRuntimeDir('flux-exec-link-') : await mkdtemp('/tmp/flux-exec-link-root-');
      image = `oci:${await userFixtureDir('busybox')}`;
      const r = await runFlux(['pull', '-q', image], { store, asUser: asUser && isRoot });
      expect(r.code, r.stderr).toBe(0);
    }, 300_000);

    afterAll(async () => {
      if (store) await removeStore(store);
      if (runtime) await rm(runtime, { recursive: true, force: true });
    });

    it('reads the container\'s own files, never the host file the symlink names', async () => {
      const opts = { store, asUser: asUser && isRoot, env: env() };
      const started = await runFlux(['run', '-d', '--network', 'none', image, '--', 'sh', '-c', `ln -sf ${secret} /etc/passwd && echo ready && sleep 60`], opts);
      expect(started.code, started.stderr).toBe(0);
      const id = started.stdout.trim();
      const logs = await until('the symlink to be planted', async () => (await runFlux(['logs', id], opts)).stdout, (t) => t.includes('ready'));
      expect(logs).toBe('ready\n');
      const r = await runFlux(['exec', '-u', 'victim', id, 'sh', '-c', 'id; echo HOME=$HOME'], opts);
      expect(r.stdout).toBe('');
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/^flux: cannot run as user "victim": no user named "victim" in the image's \/etc\/passwd\./);
      // A numeric user still works: the lookup found no file, not a broken container.
      const byId = await runFlux(['exec', '-u', '1234', id, 'id', '-u'], opts);
      expect([byId.code, byId.stdout]).toEqual([0, '1234\n']);
      expect((await runFlux(['rm', '-f', id], opts)).code).toBe(0);
    });
  });
}
