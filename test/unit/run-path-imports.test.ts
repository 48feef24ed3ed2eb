/**
 * Running an image already in the store must not load what only pulling needs: the HTTP client,
 * the tar and zstd decoders, the progress bars, registry code, the unpacker, blob writing, keyv.
 * Every module `flux run` loads is recorded (CommonJS ones from require.cache at exit, ES modules
 * by a loader hook); a static import of any of those on the run path makes this fail. From the
 * bundle (dist/, CommonJS) the record holds chunks: the chunk list the bundler writes
 * (dist/flux-chunks.json) maps each back to the modules it holds, and a pull-only module bundled
 * into a chunk the run loads fails the test just the same.
 */
import { createHash } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile, chown, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { codeCacheHome, runFlux, tempStore, removeStore, testUser, isRoot } from '../helpers/user.js';
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

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

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
// The bundle's chunks are CommonJS, the main one entered in require.cache by bin/flux.js.
const RECORD_CJS = `
const { appendFileSync } = require('node:fs');
const { pathToFileURL } = require('node:url');
process.on('exit', () => {
  appendFileSync(process.env.FLUX_TEST_MODULES, Object.keys(require.cache).map((f) => pathToFileURL(f).href + '\\n').join(''));
  // Node's own modules, as node:NAME (the internal ones left out).
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ') && !m.includes(' internal/'));
  appendFileSync(process.env.FLUX_TEST_MODULES, builtins.map((m) => 'node:' + m.slice('NativeModule '.length) + '\\n').join(''));
});
`;

/** Whether bin/flux.js takes the bundle: it exists and is not older than the tsc output. */
async function bundleIsCurrent(): Promise<boolean> {
  const bundle = await stat(join(ROOT, 'dist/flux-entry.json')).catch(() => null);
  const compiled = await stat(join(ROOT, 'dist/src/cli/main.js')).catch(() => null);
  return bundle !== null && bundle.mtimeMs >= (compiled?.mtimeMs ?? 0);
}

beforeAll(async () => {
  requireTool('newuidmap');
  // The bundle under test is the one made from the current tsc output.
  if (!(await bundleIsCurrent())) execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs')], { cwd: ROOT, stdio: 'ignore' });
  await buildFixtures(['busybox']);
  store = await tempStore();
  image = `oci:${await userFixtureDir('busybox')}`;
  const pulled = await runFlux(['pull', '-q', image], { store });
  expect(pulled.stderr).toBe('');
  expect(pulled.code).toBe(0);
  dir = await mkdtemp(join(tmpdir(), 'flux-imports-'));
  await writeFile(join(dir, 'hooks.mjs'), HOOKS);
  await writeFile(join(dir, 'register.mjs'), REGISTER);
  await writeFile(join(dir, 'record.cjs'), RECORD_CJS);
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

/** The modules a loaded file stands for: itself, or for a bundle chunk, the modules in it. */
function expand(url: string, chunks: Record<string, string[]>): string[] {
  const m = /\/dist\/((?:chunks\/)?[^/]+\.cjs)$/.exec(url);
  if (!m?.[1]) return [url];
  const held = chunks[m[1]];
  if (!held) throw new Error(`${url} is not in dist/flux-chunks.json: the bundle and its chunk list disagree.`);
  const root = url.slice(0, url.indexOf('/dist/'));
  return [url, ...held.map((rel) => `${root}/${rel}`)];
}

async function loadedBy(args: string[]): Promise<{ code: number; stdout: string; loaded: string[]; modules: string[]; bundled: boolean }> {
  const list = join(dir, `modules-${Math.random().toString(36).slice(2)}.txt`);
  const r = await runFlux(args, {
    store,
    env: { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')} --require ${join(dir, 'record.cjs')}`, FLUX_TEST_MODULES: list },
  });
  expect(r.stderr).toBe('');
  const loaded = [...new Set((await readFile(list, 'utf8')).split('\n').filter(Boolean))];
  const bundled = loaded.some((m) => /\/dist\/chunks\/[^/]+\.cjs$/.test(m));
  const chunks = bundled ? (JSON.parse(await readFile(join(ROOT, 'dist/flux-chunks.json'), 'utf8')) as Record<string, string[]>) : {};
  return { code: r.code, stdout: r.stdout, loaded, modules: loaded.flatMap((m) => expand(m, chunks)), bundled };
}

describe('the run path of a stored image', () => {
  for (const network of ['none', 'slirp4netns']) {
    it(`loads no pull-only module (--network ${network})`, async () => {
      const r = await loadedBy(['run', '--network', network, image, '--', 'echo', 'ran']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('ran\n');
      // The hook itself works: the run path's own modules are in the list.
      expect(r.modules.some((m) => m.endsWith('/dist/src/commands/run-image.js'))).toBe(true);
      expect(r.modules.some((m) => m.endsWith('/dist/store/store.js'))).toBe(true);
      const offending = FORBIDDEN.filter(([, re]) => r.modules.some((m) => re.test(m))).map(([name]) => name);
      expect(offending).toEqual([]);
    });
  }

  it('comes from the bundle, which keeps pull-only code in chunks of its own', async () => {
    const r = await loadedBy(['run', '--network', 'none', image, '--', 'true']);
    expect(r.code).toBe(0);
    // A tsc rebuild after the bundle makes bin/flux.js fall back to dist/src; that is checked above.
    if (!(await bundleIsCurrent())) return;
    expect(r.bundled).toBe(true);
    // commander is inlined, not loaded from node_modules; no tsc output file is loaded either.
    expect(r.modules.some((m) => m.includes('/node_modules/commander/'))).toBe(true);
    expect(r.loaded.filter((m) => m.includes('/node_modules/commander/') || /\/dist\/(src|store)\//.test(m))).toEqual([]);
    // The run's own code came from the chunks it loaded.
    expect(r.modules.some((m) => m.endsWith('/dist/src/commands/run-image.js'))).toBe(true);
    const chunks = JSON.parse(await readFile(join(ROOT, 'dist/flux-chunks.json'), 'utf8')) as Record<string, string[]>;
    const pullOnly = Object.entries(chunks).filter(([, mods]) => mods.some((m) => FORBIDDEN.some(([, re]) => re.test(`/${m}`))));
    // The pull-only modules exist in the bundle, in chunks the run did not load.
    expect(pullOnly.length).toBeGreaterThan(0);
    const loadedChunks = new Set(r.loaded.filter((m) => m.endsWith('.cjs')).map((m) => m.slice(m.indexOf('/dist/') + 6)));
    expect(pullOnly.map(([file]) => file).filter((file) => loadedChunks.has(file))).toEqual([]);
  });

  it('loads the port probing (sockets) only for a run that publishes ports', async () => {
    const r = await loadedBy(['run', image, '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.modules.some((m) => m.endsWith('/dist/src/sandbox/slirp4netns.js'))).toBe(true);
    expect(r.modules.filter((m) => /\/dist\/src\/sandbox\/(ports|pasta)\.js$/.test(m))).toEqual([]);
    if (!r.bundled) return;
    // The default network's code travels in the run's own chunk: no extra file to load.
    const chunks = JSON.parse(await readFile(join(ROOT, 'dist/flux-chunks.json'), 'utf8')) as Record<string, string[]>;
    const home = Object.entries(chunks).find(([, mods]) => mods.includes('dist/src/sandbox/slirp4netns.js'))?.[1] ?? [];
    expect(home).toContain('dist/src/commands/run-image.js');
  });

  it('loads neither node:crypto nor node:perf_hooks (some milliseconds of every start), on either network', async () => {
    for (const network of ['none', 'slirp4netns']) {
      const r = await loadedBy(['run', '--network', network, image, '--', 'true']);
      expect(r.code).toBe(0);
      // The record of Node's own modules works: the helper is started through node:child_process.
      expect(r.loaded).toContain('node:child_process');
      expect(r.loaded.filter((m) => m === 'node:crypto' || m === 'node:perf_hooks')).toEqual([]);
    }
  });

  it('loads none in a matrix of stored images either', async () => {
    const r = await loadedBy(['matrix', '-q', '--network', 'none', image, '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1 passed');
    expect(r.modules.some((m) => m.endsWith('/dist/src/library/matrix-run.js'))).toBe(true);
    const offending = FORBIDDEN.filter(([, re]) => r.modules.some((m) => re.test(m))).map(([name]) => name);
    expect(offending).toEqual([]);
    // A command that prints nothing leaves nothing to hash: node:crypto is not loaded either.
    expect(r.loaded).toContain('node:child_process');
    expect(r.loaded.filter((m) => m === 'node:crypto')).toEqual([]);
  });

  it('loads none in the default form `flux IMAGE -- CMD` either', async () => {
    const r = await loadedBy([image, '--', 'true']);
    expect(r.code).toBe(0);
    const offending = FORBIDDEN.filter(([, re]) => r.modules.some((m) => re.test(m))).map(([name]) => name);
    expect(offending).toEqual([]);
  });
});

describe('the bundle', () => {
  it('keeps every path computed from a module URL pointing at a file that exists', async () => {
    const files = ['flux.cjs', ...(await readdir(join(ROOT, 'dist/chunks'))).map((f) => `chunks/${f}`)];
    const chunks = JSON.parse(await readFile(join(ROOT, 'dist/flux-chunks.json'), 'utf8')) as Record<string, string[]>;
    const targets: string[] = [];
    const moduleUrl = 'require("node:url").pathToFileURL(__filename)';
    for (const file of files.filter((f) => f in chunks)) {
      const code = await readFile(join(ROOT, 'dist', file), 'utf8');
      // The sandbox helper, the unpack worker, the rootfs copier: each rebased on its module's tsc output file.
      for (const m of code.matchAll(/new URL\(("[^"]+"), new URL\(("[^"]+"), require\("node:url"\)\.pathToFileURL\(__filename\)\)\.href\)/g)) {
        const moduleFile = resolve(dirname(join(ROOT, 'dist', file)), JSON.parse(m[2] as string) as string);
        targets.push(resolve(dirname(moduleFile), JSON.parse(m[1] as string) as string));
      }
      // import.meta.dirname: its module's directory, as a plain path (the helper's is found from it).
      for (const m of code.matchAll(/require\("node:path"\)\.join\(__dirname, ("[^"]+")\)/g)) {
        const moduleDir = resolve(dirname(join(ROOT, 'dist', file)), JSON.parse(m[1] as string) as string);
        targets.push(moduleDir);
        if (code.includes('"../../../native/build/flux-helper"')) targets.push(resolve(moduleDir, '../../../native/build/flux-helper'));
      }
      // No module URL is left pointing at the chunk itself, and none is an ES module's.
      expect(code.replace(/new URL\("[^"]+", require\("node:url"\)\.pathToFileURL\(__filename\)\)\.href/g, '')).not.toContain(moduleUrl);
      expect(code).not.toContain('import.meta');
    }
    expect(targets.some((t) => t.endsWith('/native/build/flux-helper'))).toBe(true);
    expect(targets.some((t) => t.endsWith('/dist/src/layers/unpack-worker-main.js'))).toBe(true);
    expect(targets.filter((t) => !existsSync(t))).toEqual([]);
  });

  it('names its main chunk and a code cache for it, which V8 accepts', async () => {
    const entry = JSON.parse(await readFile(join(ROOT, 'dist/flux-entry.json'), 'utf8')) as { main: string; codeCache: string | null };
    const chunks = JSON.parse(await readFile(join(ROOT, 'dist/flux-chunks.json'), 'utf8')) as Record<string, string[]>;
    expect(chunks[entry.main]).toContain('dist/src/commands/run-image.js');
    expect(entry.codeCache).toBe(`${entry.main}.v8`);
    // The same compile bin/flux.js makes, in a Node of its own.
    const check = `const vm = require('node:vm'), fs = require('node:fs'), Module = require('node:module');
      const s = new vm.Script(Module.wrap(fs.readFileSync(process.argv[1], 'utf8')), { filename: process.argv[1], cachedData: fs.readFileSync(process.argv[2]) });
      process.stdout.write(String(s.cachedDataRejected));`;
    const out = execFileSync(process.execPath, ['-e', check, join(ROOT, 'dist', entry.main), join(ROOT, 'dist', entry.codeCache as string)], { encoding: 'utf8' });
    expect(out).toBe('false');
    // An installation made by root serves its users: they must be able to read it.
    expect((await stat(join(ROOT, 'dist', entry.codeCache as string))).mode & 0o044).toBe(0o044);
  });

  it('writes chunks of ASCII only, with the messages that had other characters unchanged', async () => {
    const chunks = Object.keys(JSON.parse(await readFile(join(ROOT, 'dist/flux-chunks.json'), 'utf8')) as Record<string, string[]>);
    const outside: string[] = [];
    for (const c of chunks) if (/[^\x00-\x7f]/.test(await readFile(join(ROOT, 'dist', c), 'utf8'))) outside.push(c);
    expect(outside).toEqual([]);
    // Escaped in the chunk, the ellipsis of `flux pull --help` still prints as one.
    const help = execFileSync(process.execPath, [join(ROOT, 'bin/flux.js'), 'pull', '--help'], { encoding: 'utf8' });
    expect(help).toContain('localhost:5000/app@sha256:\u2026,');
  });
});

describe('the code cache a run teaches', () => {
  it('is taught by a matrix too, which runs its images with the run\'s own code', async () => {
    const cache = await codeCacheHome();
    try {
      const env = { XDG_CACHE_HOME: cache };
      const first = await runFlux(['run', '--network', 'none', image, '--', 'true'], { store, env });
      expect(first.code).toBe(0);
      const entry = JSON.parse(await readFile(join(ROOT, 'dist/flux-entry.json'), 'utf8')) as { main: string; id: string };
      const file = join(cache, 'flux', 'code-cache', `${basename(entry.main)}-${entry.id}-${process.version}.v8`);
      const learned = await stat(file);
      const matrix = await runFlux(['matrix', '-q', '--network', 'none', image, '--', 'true'], { store, env });
      expect(matrix.code).toBe(0);
      expect(await readFile(`${file}.kinds`, 'utf8')).toBe('run:none\nmatrix:none\n');
      // It then also holds what the matrix compiled of the main chunk.
      expect((await stat(file)).size).toBeGreaterThan(learned.size);
      // The matrix's own chunks (its command, flux.matrix()) get caches of their own, named after them as written.
      const matrixEntry = JSON.parse(await readFile(join(ROOT, 'dist/flux-entry.json'), 'utf8')) as { matrix: [string, string][] };
      expect(matrixEntry.matrix.length).toBeGreaterThan(0);
      const chunkCaches: string[] = [];
      for (const [name, id] of matrixEntry.matrix) {
        expect(id).toBe(createHash('sha256').update(await readFile(join(ROOT, 'dist', name))).digest('hex').slice(0, 16));
        const own = join(cache, 'flux', 'code-cache', `${basename(name)}-${id}-${process.version}.v8`);
        expect((await stat(own)).mode & 0o777).toBe(0o600);
        chunkCaches.push(own);
      }
      const taught = await Promise.all(chunkCaches.map((f) => stat(f)));
      const again = await runFlux(['matrix', '-q', '--network', 'none', image, '--', 'true'], { store, env });
      expect(again.code).toBe(0);
      expect(await readFile(`${file}.kinds`, 'utf8')).toBe('run:none\nmatrix:none\n');
      // Used as they are by the next matrix.
      for (const [i, f] of chunkCaches.entries()) expect((await stat(f)).mtimeMs).toBe(taught[i]!.mtimeMs);
      // Bytes V8 refuses do no harm: the matrix runs as usual and that chunk's cache is made anew.
      const junk = Buffer.alloc(taught[0]!.size, 7);
      await writeFile(chunkCaches[0]!, junk);
      const refused = await runFlux(['matrix', '-q', '--network', 'none', image, '--', 'true'], { store, env });
      expect(refused.code).toBe(0);
      expect((await readFile(chunkCaches[0]!)).equals(junk)).toBe(false);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });

  it('is written by the first run of each kind (network), used as is by the next, and replaced when V8 refuses it', async () => {
    const cache = await codeCacheHome();
    try {
      const env = { XDG_CACHE_HOME: cache };
      // A command other than run teaches nothing.
      const images = await runFlux(['images'], { store, env });
      expect(images.code).toBe(0);
      expect(existsSync(join(cache, 'flux'))).toBe(false);

      // One left by another build: replaced, not kept beside.
      await mkdir(join(cache, 'flux', 'code-cache'), { recursive: true });
      const stale = join(cache, 'flux', 'code-cache', `run-0ld0ld0l.cjs-${process.version}.v8`);
      await writeFile(stale, 'stale');
      if (isRoot) {
        const u = await testUser();
        for (const d of [join(cache, 'flux'), join(cache, 'flux', 'code-cache'), stale]) await chown(d, u.uid, u.gid);
      }
      const first = await runFlux(['run', '--network', 'none', image, '--', 'echo', 'one'], { store, env });
      expect(first.stdout).toBe('one\n');
      const entry = JSON.parse(await readFile(join(ROOT, 'dist/flux-entry.json'), 'utf8')) as { main: string; codeCache: string; id: string };
      // Named after the chunk as written (the build changes it after the bundler named it).
      expect(entry.id).toBe(createHash('sha256').update(await readFile(join(ROOT, 'dist', entry.main))).digest('hex').slice(0, 16));
      const file = join(cache, 'flux', 'code-cache', `${basename(entry.main)}-${entry.id}-${process.version}.v8`);
      const learned = await stat(file);
      expect(learned.mode & 0o777).toBe(0o600);
      expect(existsSync(stale)).toBe(false);
      // More than the build's cache: it also holds the functions the run compiled.
      expect(learned.size).toBeGreaterThan((await stat(join(ROOT, 'dist', entry.codeCache))).size);

      const kinds = `${file}.kinds`;
      expect(await readFile(kinds, 'utf8')).toBe('run:none\n');

      const second = await runFlux(['run', '--network', 'none', image, '--', 'echo', 'two'], { store, env });
      expect(second.stdout).toBe('two\n');
      // Accepted by V8, and this kind of run already learned: not written again.
      expect((await stat(file)).mtimeMs).toBe(learned.mtimeMs);

      // A run of another kind compiles code the cache lacks: learned once, and kept.
      const host = await runFlux(['run', '--network', 'host', image, '--', 'echo', 'host'], { store, env });
      expect(host.stdout).toBe('host\n');
      const both = await stat(file);
      expect(both.mtimeMs).toBeGreaterThan(learned.mtimeMs);
      expect(both.size).toBeGreaterThan(learned.size);
      expect(await readFile(kinds, 'utf8')).toBe('run:none\nrun:host\n');
      const again = await runFlux(['run', '--network', 'host', image, '--', 'echo', 'again'], { store, env });
      expect(again.stdout).toBe('again\n');
      expect((await stat(file)).mtimeMs).toBe(both.mtimeMs);

      // Bytes V8 refuses do no harm: the run compiles as usual and the cache is made anew.
      const junk = Buffer.alloc(both.size, 7);
      await writeFile(file, junk);
      const third = await runFlux(['run', '--network', 'none', image, '--', 'echo', 'three'], { store, env });
      expect(third.code).toBe(0);
      expect(third.stdout).toBe('three\n');
      expect((await readFile(file)).equals(junk)).toBe(false);
      // Made anew, it has learned only the run that made it.
      expect(await readFile(kinds, 'utf8')).toBe('run:none\n');
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
