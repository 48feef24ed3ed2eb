/**
 * Running an image already in the store must not load what only pulling needs: the HTTP client,
 * the tar and zstd decoders, the progress bars, registry code, the unpacker, blob writing, keyv.
 * A loader hook records every module `flux run` loads; a static import of any of those on the run
 * path makes this fail.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, mkdtemp, readFile, rm, writeFile, chown } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore, testUser, isRoot } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

const FORBIDDEN: Array<[string, RegExp]> = [
  ['got', /\/node_modules\/got\//],
  ['tar-stream', /\/node_modules\/tar-stream\//],
  ['zstd-napi', /\/node_modules\/zstd-napi\//],
  ['cli-progress', /\/node_modules\/cli-progress\//],
  ['keyv', /\/node_modules\/(@keyv\/[^/]+|keyv)\//],
  ['koffi', /\/node_modules\/koffi\//],
  ['src/registry', /\/dist\/src\/registry\//],
  ['store/unpack', /\/dist\/store\/unpack\//],
  ['store/write-blob', /\/dist\/store\/write-blob\.js$/],
  ['store/gc', /\/dist\/store\/gc\.js$/],
  ['src/layers', /\/dist\/src\/layers\//],
  ['src/cli/progress', /\/dist\/src\/cli\/progress\.js$/],
];

let dir: string;
let store: string;
let image: string;

const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.FLUX_TEST_MODULES, url + '\\n');
  return next(url, context);
}
`;
const REGISTER = `
import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
`;

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox']);
  store = await tempStore();
  image = `oci:${await userFixtureDir('busybox')}`;
  const pulled = await runFlux(['pull', '-q', image], { store });
  expect(pulled.stderr).toBe('');
  expect(pulled.code).toBe(0);
  dir = await mkdtemp(join(tmpdir(), 'flux-imports-'));
  await writeFile(join(dir, 'hooks.mjs'), HOOKS);
  await writeFile(join(dir, 'register.mjs'), REGISTER);
  await chmod(dir, 0o755);
  if (isRoot) {
    const u = await testUser();
    await chown(dir, u.uid, u.gid);
  }
});

afterAll(async () => {
  if (store) await removeStore(store);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function loadedBy(args: string[]): Promise<{ code: number; stdout: string; modules: string[] }> {
  const list = join(dir, `modules-${Math.random().toString(36).slice(2)}.txt`);
  const r = await runFlux(args, {
    store,
    env: { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}`, FLUX_TEST_MODULES: list },
  });
  expect(r.stderr).toBe('');
  const modules = (await readFile(list, 'utf8')).split('\n').filter(Boolean);
  return { code: r.code, stdout: r.stdout, modules };
}

describe('the run path of a stored image', () => {
  for (const network of ['none', 'slirp4netns']) {
    it(`loads no pull-only module (--network ${network})`, async () => {
      const r = await loadedBy(['run', '--network', network, image, '--', 'echo', 'ran']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('ran\n');
      // The hook itself works: the run path's own modules are in the list.
      expect(r.modules.some((m) => m.endsWith('/dist/src/commands/run.js'))).toBe(true);
      expect(r.modules.some((m) => m.endsWith('/dist/store/store.js'))).toBe(true);
      const offending = FORBIDDEN.filter(([, re]) => r.modules.some((m) => re.test(m))).map(([name]) => name);
      expect(offending).toEqual([]);
    });
  }

  it('loads none in the default form `flux IMAGE -- CMD` either', async () => {
    const r = await loadedBy([image, '--', 'true']);
    expect(r.code).toBe(0);
    const offending = FORBIDDEN.filter(([, re]) => r.modules.some((m) => re.test(m))).map(([name]) => name);
    expect(offending).toEqual([]);
  });
});
