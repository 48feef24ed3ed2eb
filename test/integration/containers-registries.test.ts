/**
 * podman's registries.conf (v2 TOML) read by `flux pull`/`flux run`, as the unprivileged test
 * user, against local registries: a docker.io mirror (docker.io itself is never reached), search
 * registries tried in order, a blocked registry refused in one sentence, an alias from a
 * shortnames drop-in, a location moving a prefix, and flux's own registries.json winning. The
 * system directory is a temporary one (FLUX_CONTAINERS_CONF_DIR), never the machine's /etc.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { pushFixtures } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { isRoot, removeStore, runFlux, tempStore, testUser } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';
import { registryEndpoints } from '../../src/registry/config.js';
import { parseReference } from '../../src/image/reference.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let empty: Registry;
const dirs: string[] = [];
const stores: string[] = [];

beforeAll(async () => {
  [reg, empty] = await Promise.all([startRegistry(), startRegistry()]);
  await pushFixtures(reg, ['busybox'], { repo: () => 'library/busybox' });
  await pushFixtures(reg, ['busybox'], { repo: () => 'mybox' });
}, 300_000);

afterAll(async () => {
  await Promise.all([reg?.stop(), empty?.stop()]);
  for (const s of stores) await removeStore(s);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A system dir and a user config dir with these files (paths relative to each), readable by the test user. */
async function setup(files: { system?: Record<string, string>; user?: Record<string, string> }): Promise<{ env: Record<string, string>; store: string; system: string }> {
  const root = await mkdtemp(join(tmpdir(), 'flux-containers-conf-'));
  dirs.push(root);
  const system = join(root, 'etc-containers');
  const config = join(root, 'config');
  await mkdir(system, { recursive: true });
  await mkdir(config, { recursive: true });
  for (const [rel, text] of Object.entries(files.system ?? {})) {
    await mkdir(dirname(join(system, rel)), { recursive: true });
    await writeFile(join(system, rel), text);
  }
  for (const [rel, text] of Object.entries(files.user ?? {})) {
    await mkdir(dirname(join(config, rel)), { recursive: true });
    await writeFile(join(config, rel), text);
  }
  await chmod(root, 0o755);
  if (isRoot) {
    const u = await testUser();
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, config]);
  }
  execFileSync('chmod', ['-R', 'a+rX', root]);
  const store = await tempStore();
  stores.push(store);
  return { env: { XDG_CONFIG_HOME: config, FLUX_CONTAINERS_CONF_DIR: system }, store, system };
}

async function references(store: string, env: Record<string, string>): Promise<string[]> {
  const r = await runFlux(['images', '--json'], { store, env });
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { reference: string }[]).map((i) => i.reference);
}

describe("podman's registries.conf", () => {
  it('pulls docker.io images through a [[registry.mirror]] of /etc/containers/registries.conf', async () => {
    const { env, store } = await setup({
      system: { 'registries.conf': `[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "${reg.host}"\n` },
    });
    const r = await runFlux(['pull', '-q', 'busybox'], { store, env, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await references(store, env)).toEqual(['docker.io/library/busybox:latest']);
  }, 180_000);

  it('tries unqualified-search-registries in order and says which one had a short name', async () => {
    const { env, store } = await setup({
      user: { 'containers/registries.conf': `unqualified-search-registries = ["${empty.host}", "${reg.host}"]\n` },
    });
    const r = await runFlux(['pull', '-q', 'mybox'], { store, env, timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`mybox is ${reg.host}/mybox:latest: the first of the unqualified-search-registries in`);
    expect(await references(store, env)).toEqual([`${reg.host}/mybox:latest`]);
    // The short name finds the stored image again, without asking any registry.
    const run = await runFlux(['run', '--pull=never', '--network', 'none', 'mybox', '--', 'true'], { store, env, timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const inspect = await runFlux(['inspect', 'mybox'], { store, env });
    expect(inspect.code).toBe(0);
    expect((JSON.parse(inspect.stdout) as { Reference: string }[]).map((i) => i.Reference)).toEqual([`${reg.host}/mybox:latest`]);
    const none = await runFlux(['pull', '-q', 'nothere'], { store, env, timeoutMs: 120_000 });
    expect(none.code).toBe(125);
    expect(none.stderr).toMatch(new RegExp(`^flux: none of the unqualified-search-registries in \\S+registries.conf has nothere \\(tried ${empty.host}/nothere, ${reg.host}/nothere;`));
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
  }, 180_000);

  it('refuses a blocked registry in one sentence naming the drop-in', async () => {
    const { env, store, system } = await setup({
      system: { 'registries.conf.d/50-block.conf': `[[registry]]\nlocation = "${reg.host}"\nblocked = true\n` },
    });
    const r = await runFlux(['pull', '-q', `${reg.host}/mybox`], { store, env, timeoutMs: 60_000 });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`flux: ${reg.host}/mybox is refused: its registry ${reg.host} is blocked in ${join(system, 'registries.conf.d/50-block.conf')}. Pull it from another registry, or remove "blocked = true" there.\n`);
  }, 60_000);

  it('resolves an [aliases] short name from a shortnames.conf drop-in', async () => {
    const { env, store } = await setup({
      system: { 'registries.conf': 'unqualified-search-registries = ["docker.io"]\n', 'registries.conf.d/000-shortnames.conf': `[aliases]\n"bb" = "${reg.host}/mybox"\n` },
    });
    const r = await runFlux(['pull', '-q', 'bb'], { store, env, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await references(store, env)).toEqual([`${reg.host}/mybox:latest`]);
  }, 180_000);

  it('moves a prefix to its location', async () => {
    const { env, store } = await setup({
      system: { 'registries.conf': `[[registry]]\nprefix = "registry.example/team"\nlocation = "${reg.host}/library"\n` },
    });
    const r = await runFlux(['pull', '-q', 'registry.example/team/busybox'], { store, env, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await references(store, env)).toEqual(['registry.example/team/busybox:latest']);
  }, 180_000);

  it("lets flux's own registries.json win where both name mirrors", async () => {
    const { env, store } = await setup({
      system: { 'registries.conf': '[[registry]]\nprefix = "docker.io"\n\n[[registry.mirror]]\nlocation = "127.0.0.1:1"\n' },
      user: { 'flux/registries.json': JSON.stringify({ mirrors: { 'docker.io': [reg.host] } }) },
    });
    const r = await runFlux(['pull', 'busybox'], { store, env, timeoutMs: 120_000 });
    expect(r.stderr).not.toContain('127.0.0.1:1');
    expect(r.code).toBe(0);
  }, 180_000);

  it('names a file that is not TOML, in one sentence', async () => {
    const { env, store, system } = await setup({ system: { 'registries.conf': '[[registry]\nprefix = \n' } });
    const r = await runFlux(['pull', '-q', 'busybox'], { store, env, timeoutMs: 60_000 });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(new RegExp(`^flux: ${join(system, 'registries.conf')} is invalid: it is not valid TOML \\(.*\\)\\. Fix it as containers-registries.conf\\(5\\) describes`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});

describe('registries.conf endpoints', () => {
  const rules = (text: Partial<{ insecure: boolean; mirrors: { location: string; insecure: boolean; pullFrom: 'all' | 'digest-only' | 'tag-only' }[] }>) => ({
    mirrors: {}, insecure: [],
    containers: { registries: [{ prefix: 'lan.example:5000', location: 'lan.example:5000', insecure: text.insecure ?? false, blocked: false, mirrors: text.mirrors ?? [], file: 'x' }], aliases: new Map(), files: ['x'] },
  });

  it('lets an insecure [[registry]] use plain HTTP, and its insecure mirrors', () => {
    const config = rules({ insecure: true, mirrors: [{ location: 'cache.lan/hub', insecure: true, pullFrom: 'all' }, { location: 'tags.lan', insecure: false, pullFrom: 'digest-only' }] });
    expect(registryEndpoints(parseReference('lan.example:5000/team/app:1'), { config })).toEqual([
      { host: 'cache.lan', authHost: 'cache.lan', insecure: true, mirror: true, repository: 'hub/team/app' },
      { host: 'lan.example:5000', authHost: 'lan.example:5000', insecure: true, mirror: false },
    ]);
    expect(registryEndpoints(parseReference('lan.example:5000/team/app@sha256:' + 'a'.repeat(64)), { config }).map((e) => e.host)).toEqual(['cache.lan', 'tags.lan', 'lan.example:5000']);
    expect(registryEndpoints(parseReference('lan.example:5000/team/app:1'), { config: rules({}) })[0]!.insecure).toBe(false);
  });
});
