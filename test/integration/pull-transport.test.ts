/**
 * How a pull talks to a registry: a plain-HTTP registry on loopback is pulled from without
 * loading TLS (it cost a small pull more than its bytes) and with got from the bundle, over
 * connections kept alive across requests; the unpack worker runs from its one-file bundle; and a
 * loopback registry that speaks only HTTPS is still found, the plain probe falling through to TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import Module from 'node:module';
import net from 'node:net';
import vm from 'node:vm';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { fixtureInfo, pushFixtures } from '../helpers/fixtures.js';
import { requireTool } from '../helpers/require.js';
import { REPO_ROOT, codeCacheHome, isRoot, removeStore, runFlux, tempStore, testUser } from '../helpers/user.js';
import { parseReference } from '../../src/image/reference.js';
import { parseManifest } from '../../src/image/manifest.js';
import { RegistrySource } from '../../src/registry/source.js';
import { pingSchemes } from '../../src/registry/scheme-probe.js';

requireTool('docker-registry');
requireTool('skopeo');
requireTool('openssl');

// Written at exit by the pulling flux: the built-in modules Node loaded, and every ES module.
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
const RECORD = `
const { appendFileSync } = require('node:fs');
process.on('exit', () => {
  appendFileSync(process.env.FLUX_TEST_MODULES, [...process.moduleLoadList, ...Object.keys(require.cache)].join('\\n') + '\\n');
});
`;

// Written by the pulling flux when its first HTTP request is made (Node's own diagnostics
// channel), and for each of got's requests: the built-in modules loaded by then, and got's id.
const FIRST_REQUEST = `
const { appendFileSync } = require('node:fs');
const dc = require('node:diagnostics_channel');
let first = true;
dc.subscribe('http.client.request.start', () => {
  if (first) appendFileSync(process.env.FLUX_TEST_FIRST, JSON.stringify({ loaded: process.moduleLoadList }) + '\\n');
  first = false;
});
dc.subscribe('got:request:create', (m) => appendFileSync(process.env.FLUX_TEST_FIRST, JSON.stringify({ requestId: m.requestId }) + '\\n'));
`;

let reg: Registry;
let dir: string;

beforeAll(async () => {
  // The bundle under test is the one made from the current tsc output (bin/flux.js ignores an older one).
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/bundle.mjs')], { cwd: REPO_ROOT, stdio: 'ignore' });
  reg = await startRegistry();
  await pushFixtures(reg, ['busybox']);
  dir = await mkdtemp(join(tmpdir(), 'flux-transport-'));
  await writeFile(join(dir, 'hooks.mjs'), HOOKS);
  await writeFile(join(dir, 'register.mjs'), REGISTER);
  await writeFile(join(dir, 'record.cjs'), RECORD);
  await writeFile(join(dir, 'first-request.cjs'), FIRST_REQUEST);
  await chmod(dir, 0o755);
  if (isRoot) {
    const u = await testUser();
    await chown(dir, u.uid, u.gid);
  }
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the ping order', () => {
  it('asks loopback in plain HTTP first, any other insecure host in HTTPS first, a secure one only in HTTPS', () => {
    expect(pingSchemes({ host: '127.0.0.1:5000', insecure: true })).toEqual(['http:', 'https:']);
    expect(pingSchemes({ host: 'localhost:5000', insecure: true })).toEqual(['http:', 'https:']);
    expect(pingSchemes({ host: 'registry.example:5000', insecure: true })).toEqual(['https:', 'http:']);
    expect(pingSchemes({ host: 'registry.example', insecure: false })).toEqual(['https:']);
  });
});

describe('a pull from a plain-HTTP loopback registry', () => {
  it('loads no TLS, got only from the bundle, and the unpack worker (tar-stream included) from its bundle', async () => {
    const store = await tempStore();
    try {
      const list = join(dir, 'modules.txt');
      const r = await runFlux(['pull', '-q', `${reg.host}/busybox:latest`], {
        store,
        env: { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')} --require ${join(dir, 'record.cjs')}`, FLUX_TEST_MODULES: list },
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe((await fixtureInfo('busybox')).digest);
      const loaded = (await readFile(list, 'utf8')).split('\n');
      // The record works: the plain HTTP client is in it.
      expect(loaded).toContain('NativeModule _http_client');
      expect(loaded.filter((m) => /^NativeModule (tls|https|_tls_wrap)$/.test(m) || /\/node_modules\/(got|http2-wrapper|@sindresorhus)\//.test(m))).toEqual([]);
      // The unpack worker (a process of its own, which records into the same list) ran from its
      // one-file bundle; neither it nor the pull loaded a single tsc output module.
      expect(loaded.some((m) => m.endsWith('/dist/unpack-worker.cjs'))).toBe(true);
      expect(loaded.filter((m) => /\/dist\/(src|store)\//.test(m))).toEqual([]);
      // Nor perf_hooks, which the first use of \`performance\` loads: timing reads it only when on.
      expect(loaded).not.toContain('NativeModule perf_hooks');
      // koffi (the gc lock's flock) is its native module, the one the build recorded, required
      // directly: neither its package's platform wrapper nor Node's ES module loader (which an
      // import() started for it alone, before the first answer was read).
      const { native } = JSON.parse(await readFile(join(REPO_ROOT, 'dist/koffi-native.json'), 'utf8')) as { native: string };
      expect(loaded).toContain(realpathSync(join(REPO_ROOT, native)));
      expect(loaded.filter((m) => m.includes('/node_modules/koffi/'))).toEqual([]);
      // Nor did it find tar-stream and its dependencies in node_modules: its bundle holds them.
      expect(loaded.filter((m) => /\/node_modules\/(tar-stream|streamx|b4a|fast-fifo|text-decoder|queue-tick|bare-events|events-universal)\//.test(m))).toEqual([]);
    } finally {
      await removeStore(store);
    }
  }, 60_000);
});

describe('a cold pull, before its first request', () => {
  it('has loaded neither node:crypto, node:zlib, node:dns, node:fs/promises nor node:module, and got still gives each request a UUID', async () => {
    const store = await tempStore();
    try {
      const file = join(dir, 'first-request.txt');
      await writeFile(file, '');
      await chmod(file, 0o666);
      const r = await runFlux(['pull', '-q', `${reg.host}/busybox:latest`], {
        store,
        env: { NODE_OPTIONS: `--require ${join(dir, 'first-request.cjs')}`, FLUX_TEST_FIRST: file },
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { loaded?: string[]; requestId?: string });
      const loaded = lines.find((l) => l.loaded)!.loaded!;
      // The record works: the HTTP client is loaded by then.
      expect(loaded).toContain('NativeModule _http_client');
      expect(loaded.filter((m) => /^NativeModule (crypto|zlib|dns|fs\/promises|module)$/.test(m))).toEqual([]);
      const ids = lines.filter((l) => l.requestId !== undefined).map((l) => l.requestId!);
      // manifest, config and layer at least; each a distinct version 4 UUID.
      expect(ids.length).toBeGreaterThanOrEqual(3);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(new Set(ids).size).toBe(ids.length);
      // Loaded once its digests were due: the pull verified every blob with it.
      expect(r.stdout.trim()).toBe((await fixtureInfo('busybox')).digest);
    } finally {
      await removeStore(store);
    }
  }, 60_000);
});

describe('the code cache a pull teaches', () => {
  it('is written by the first pull that fetched, for the main chunk and the pull chunks, used by the next, and made anew when V8 refuses it', async () => {
    const cache = await codeCacheHome();
    const other = await codeCacheHome();
    const stores: string[] = [];
    const cold = async (env: Record<string, string>, args: string[] = []) => {
      const store = await tempStore();
      stores.push(store);
      const r = await runFlux(['pull', '-q', ...args, `${reg.host}/busybox:latest`], { store, env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe((await fixtureInfo('busybox')).digest);
      return store;
    };
    try {
      const entry = JSON.parse(await readFile(join(REPO_ROOT, 'dist/flux-entry.json'), 'utf8')) as { main: string; id: string; pull: string; pullCodeCache: string; pullId: string; pullStart: string; pullStartId: string };
      const dirOf = (home: string) => join(home, 'flux', 'code-cache');
      const mainFile = join(dirOf(cache), `${basename(entry.main)}-${entry.id}-${process.version}.v8`);
      // Named after the pull chunk as written, as the main chunk's is.
      expect(entry.pullId).toBe(createHash('sha256').update(await readFile(join(REPO_ROOT, 'dist', entry.pull))).digest('hex').slice(0, 16));
      const pullFile = join(dirOf(cache), `${basename(entry.pull)}-${entry.pullId}-${process.version}.v8`);
      expect(entry.pullStartId).toBe(createHash('sha256').update(await readFile(join(REPO_ROOT, 'dist', entry.pullStart))).digest('hex').slice(0, 16));
      const startFile = join(dirOf(cache), `${basename(entry.pullStart)}-${entry.pullStartId}-${process.version}.v8`);
      const store = await cold({ XDG_CACHE_HOME: cache });
      expect(await readFile(`${mainFile}.kinds`, 'utf8')).toBe('pull\n');
      const learned = await stat(pullFile);
      expect(learned.mode & 0o777).toBe(0o600);
      // The pull's starter (every `flux pull` loads it) has no build cache: only the learned one.
      const startLearned = await stat(startFile);
      expect(startLearned.mode & 0o777).toBe(0o600);
      // More than the build's: it also holds what the pull compiled once its first answer came.
      expect(learned.size).toBeGreaterThan((await stat(join(REPO_ROOT, 'dist', entry.pullCodeCache))).size);

      // The next pull that fetches uses it as it is.
      await cold({ XDG_CACHE_HOME: cache });
      expect((await stat(pullFile)).mtimeMs).toBe(learned.mtimeMs);
      expect((await stat(startFile)).mtimeMs).toBe(startLearned.mtimeMs);
      expect((await stat(mainFile)).mtimeMs).toBeLessThanOrEqual(learned.mtimeMs);

      // A pull that found the image in the store fetched nothing and teaches nothing.
      const stored = await runFlux(['pull', '-q', '--pull', 'missing', `${reg.host}/busybox:latest`], { store, env: { XDG_CACHE_HOME: other } });
      expect(stored.code).toBe(0);
      expect(existsSync(join(other, 'flux'))).toBe(false);

      // Bytes V8 refuses do no harm: the pull compiles as usual and the chunk's cache is made anew.
      const junk = Buffer.alloc(learned.size, 7);
      await writeFile(pullFile, junk);
      await cold({ XDG_CACHE_HOME: cache });
      expect((await readFile(pullFile)).equals(junk)).toBe(false);
      expect(await readFile(`${mainFile}.kinds`, 'utf8')).toBe('pull\n');
    } finally {
      for (const s of stores) await removeStore(s);
      await rm(cache, { recursive: true, force: true });
      await rm(other, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the pull chunk', () => {
  it('has a code cache that holds got\'s request path, compiled by one request at build time', async () => {
    const entry = JSON.parse(await readFile(join(REPO_ROOT, 'dist/flux-entry.json'), 'utf8')) as { main: string; pull: string; pullCodeCache: string };
    // The cache of the chunk's top level alone, made the same way but without the request.
    const script = [
      "const { readFileSync } = require('node:fs');",
      "const vm = require('node:vm');",
      "const Module = require('node:module');",
      `require(${JSON.stringify(join(REPO_ROOT, 'dist', entry.main))});`,
      `const file = ${JSON.stringify(join(REPO_ROOT, 'dist', entry.pull))};`,
      "const s = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file });",
      "const m = { exports: {} };",
      "s.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, require('node:path').dirname(file));",
      'process.stdout.write(String(s.createCachedData().length));',
    ].join('\n');
    const topLevelOnly = Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
    const built = (await readFile(join(REPO_ROOT, 'dist', entry.pullCodeCache))).length;
    expect(topLevelOnly).toBeGreaterThan(50_000);
    expect(built).toBeGreaterThan(topLevelOnly * 1.3);
  });

  it('has a code cache that V8 accepts', async () => {
    const entry = JSON.parse(await readFile(join(REPO_ROOT, 'dist/flux-entry.json'), 'utf8')) as { pull?: string; pullCodeCache?: string };
    expect(entry.pull).toMatch(/^chunks\/pull-.*\.cjs$/);
    expect(entry.pullCodeCache).toBe(`${entry.pull}.v8`);
    const file = join(REPO_ROOT, 'dist', entry.pull!);
    const script = new vm.Script(Module.wrap(await readFile(file, 'utf8')), { filename: file, cachedData: await readFile(join(REPO_ROOT, 'dist', entry.pullCodeCache!)) });
    expect(script.cachedDataRejected).toBe(false);
  });
});

describe('the pull chunk, loaded', () => {
  it('loads no package from node_modules (keyv waits for the index write, got\'s cache is never used)', async () => {
    const entry = JSON.parse(await readFile(join(REPO_ROOT, 'dist/flux-entry.json'), 'utf8')) as { main: string; pull: string };
    const script = [
      `require(${JSON.stringify(join(REPO_ROOT, 'dist', entry.main))});`,
      `require(${JSON.stringify(join(REPO_ROOT, 'dist', entry.pull))});`,
      "process.stdout.write(JSON.stringify(Object.keys(require.cache)));",
    ].join('\n');
    const loaded = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as string[];
    expect(loaded.some((f) => f.endsWith(entry.pull))).toBe(true);
    expect(loaded.filter((f) => f.includes('/node_modules/'))).toEqual([]);
  });
});

describe('what a pull loads before it starts its unpacker', () => {
  it('holds neither the store\'s gc nor fs/promises (with readline, which Node loads for it)', async () => {
    const entry = JSON.parse(await readFile(join(REPO_ROOT, 'dist/flux-entry.json'), 'utf8')) as { main: string };
    const chunks = JSON.parse(await readFile(join(REPO_ROOT, 'dist/flux-chunks.json'), 'utf8')) as Record<string, string[]>;
    const start = Object.keys(chunks).find((c) => chunks[c]!.includes('dist/src/layers/job-runner.js'));
    expect(start).toMatch(/^chunks\/pull-start-/);
    expect(chunks[start!]!.filter((m) => m.startsWith('dist/store/'))).toEqual([]);
    const script = [
      `require(${JSON.stringify(join(REPO_ROOT, 'dist', entry.main))});`,
      `require(${JSON.stringify(join(REPO_ROOT, 'dist', start!))});`,
      "process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => /fs\\/promises|readline/.test(m))));",
    ].join('\n');
    expect(JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))).toEqual([]);
  });
});

describe('the pull chunk, loaded, makes no Intl object', () => {
  it('so ICU\'s locale data stays unloaded before the first request (got\'s type checks made two list formatters at their top)', async () => {
    const entry = JSON.parse(await readFile(join(REPO_ROOT, 'dist/flux-entry.json'), 'utf8')) as { main: string; pull: string };
    const script = [
      'let made = 0;',
      'for (const name of Object.getOwnPropertyNames(Intl)) {',
      "  if (typeof Intl[name] !== 'function' || !/^[A-Z]/.test(name)) continue;",
      '  Intl[name] = new Proxy(Intl[name], { construct(target, args) { made++; return Reflect.construct(target, args); } });',
      '}',
      `require(${JSON.stringify(join(REPO_ROOT, 'dist', entry.main))});`,
      `require(${JSON.stringify(join(REPO_ROOT, 'dist', entry.pull))});`,
      'process.stdout.write(String(made));',
    ].join('\n');
    expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })).toBe('0');
  });
});

describe('the unpack worker', () => {
  it('is started from a small loader that compiles its code from a code cache V8 accepts', async () => {
    const loader = await readFile(join(REPO_ROOT, 'dist/unpack-worker.cjs'), 'utf8');
    expect(loader).toContain('unpack-worker-body.cjs');
    const file = join(REPO_ROOT, 'dist/unpack-worker-body.cjs');
    const cachedData = await readFile(`${file}.v8`);
    const script = new vm.Script(Module.wrap(await readFile(file, 'utf8')), { filename: file, cachedData });
    expect(script.cachedDataRejected).toBe(false);
    // More than the top level: the bundled modules' code, compiled while the build ran it once.
    expect(cachedData.length).toBeGreaterThan(40_000);
  });

  it('has a code cache that holds the unpack path, compiled by one unpack at build time', async () => {
    const file = join(REPO_ROOT, 'dist/unpack-worker-body.cjs');
    // The cache of the worker run with no job (stdin empty), made the same way.
    const script = [
      "const { readFileSync } = require('node:fs');",
      "const vm = require('node:vm');",
      "const Module = require('node:module');",
      `const file = ${JSON.stringify(file)};`,
      "const s = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file });",
      "process.on('exit', () => require('node:fs').writeSync(1, String(s.createCachedData().length)));",
      "s.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, require('node:path').dirname(file));",
    ].join('\n');
    const noJob = Number(execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' }));
    const built = (await readFile(`${file}.v8`)).length;
    expect(noJob).toBeGreaterThan(40_000);
    expect(built).toBeGreaterThan(noJob * 1.5);
  });
});

describe('a pull from a loopback registry', () => {
  it('keeps its connections alive across requests', async () => {
    // A TCP relay in front of the registry that counts connections and requests.
    let connections = 0;
    let requests = 0;
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      connections++;
      const [host, port] = reg.directHost.split(':');
      const upstream = net.connect(Number(port), host!);
      sockets.add(client).add(upstream);
      client.on('data', (d: Buffer) => { requests += d.toString('latin1').match(/^(GET|HEAD) \/v2\//gm)?.length ?? 0; });
      client.pipe(upstream).pipe(client);
      const end = (): void => { client.destroy(); upstream.destroy(); };
      client.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const store = await tempStore();
    try {
      const port = (relay.address() as net.AddressInfo).port;
      const r = await runFlux(['pull', '-q', `127.0.0.1:${port}/busybox:latest`], { store });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // The manifest (which also finds the scheme), the config and the layer: at most the config and the layer at once.
      expect(requests).toBeGreaterThanOrEqual(3);
      expect(connections).toBeLessThanOrEqual(2);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => relay.close(r));
      await removeStore(store);
    }
  }, 60_000);
});

describe('a loopback registry that speaks only HTTPS', () => {
  let proxy: net.Server | undefined;
  const open = new Set<net.Socket>();

  afterAll(async () => {
    // The client keeps its connections alive: close them, or the server never finishes closing.
    for (const s of open) s.destroy();
    await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  });

  it('is found through the plain probe falling through to TLS, and every blob verifies', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const [key, cert] = await Promise.all([readFile(join(dir, 'key.pem')), readFile(join(dir, 'cert.pem'))]);
    // TLS in front of the registry: the plain registry is only reachable through it.
    const server = tls.createServer({ key, cert }, (client) => {
      const [host, port] = reg.directHost.split(':');
      const upstream = net.connect(Number(port), host!);
      open.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const end = (): void => { client.destroy(); upstream.destroy(); };
      client.on('error', end);
      upstream.on('error', end);
    });
    server.on('tlsClientError', () => undefined);
    proxy = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const src = new RegistrySource(parseReference(`127.0.0.1:${port}/busybox:latest`), { config: { mirrors: {}, insecure: [] } });
    const raw = await src.getManifest();
    expect(raw.digest).toBe((await fixtureInfo('busybox')).digest);
    const m = parseManifest(raw);
    if (m.kind !== 'image') throw new Error('expected an image manifest');
    for (const d of [m.manifest.config, ...m.manifest.layers]) {
      let n = 0;
      for await (const c of await src.openBlob(d)) n += (c as Buffer).length;
      expect(n).toBe(d.size);
    }
  }, 60_000);
});
