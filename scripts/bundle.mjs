#!/usr/bin/env node
/**
 * Bundles the compiled CLI (dist/src/cli/main.js, from `tsc`) into CommonJS chunks under dist/,
 * which bin/flux.js loads: one file read instead of dozens, commander inlined, and a V8 code cache
 * for the main chunk. CommonJS because Node 20 starts it about 10 ms sooner than ES modules (the
 * sources stay ES modules). Packages with native parts or only needed to pull stay external and
 * are still loaded with dynamic `import()`, so they stay off the run path; pull-only code of flux
 * itself lands in separate chunks under dist/chunks/, loaded only when a pull needs it.
 *
 * Every `import.meta.url` in flux's own modules is rewritten to the URL of that module's tsc
 * output file, and every `import.meta.dirname` to its directory, so paths computed from them (the
 * sandbox helper, worker scripts) resolve exactly as they do unbundled, whichever chunk the code
 * ends up in.
 *
 * dist/flux-entry.json, written last, names the main chunk, its code cache and a hash of its content.
 *
 *   node scripts/bundle.mjs   (after `tsc -p tsconfig.json`; `npm run build` runs both)
 */
import { build } from 'rolldown';
import { parseAst } from 'rolldown/parseAst';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainingJobs } from './unpack-training.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist');
const ENTRY = join(ROOT, 'dist/src/cli/main.js');
const WORKER = join(ROOT, 'dist/src/layers/unpack-worker-main.js');
/** The unpack worker's bundle: src/layers/job-runner.ts starts this file when it runs from the bundle. */
export const WORKER_BUNDLE = 'unpack-worker.cjs';

/**
 * Loaded at run time from node_modules: native addons and a few pull-only packages. got is
 * bundled into the pull chunk (see DEPENDENCY_EDITS): loaded from node_modules it is some sixty ES modules.
 */
const EXTERNAL = ['tar-stream', 'zstd-napi', 'koffi', 'cli-progress', 'keyv', '@keyv'];
/**
 * The unpack worker bundles tar-stream and its dependencies: from node_modules they were a dozen
 * files to find and load at every cold pull's unpacker start. The native addons stay outside.
 */
const WORKER_EXTERNAL = ['zstd-napi', 'koffi'];

/**
 * What a run of a stored image loads (detached, -d, too), with everything they import, goes into one chunk: a warm
 * run then reads a handful of files instead of forty. The rest of flux (pulling, unpacking,
 * registries, matrix, the network helpers) stays in chunks that only what needs them loads.
 */
const RUN_ROOTS = ['src/commands/run-image.js', 'src/container/run-container.js', 'src/container/start-detached.js', 'src/container/container-state.js', 'src/pull/pull-image.js', 'src/sources/lookup.js', 'src/flags/run-flags.js', 'src/sandbox/network.js', 'src/sandbox/slirp4netns.js', 'store/image-index.js'];

/**
 * What a pull loads once it knows it must fetch (`flux pull`, and `flux run` or `flux matrix` of a
 * missing image), got and its dependencies included: one chunk instead of the dozens of files it
 * read one by one. The archive sources stay apart (a pull from a registry does not need them), and
 * so do the store's lock and index, which a warm run uses too.
 */
const PULL = /[\\/]node_modules[\\/](?!commander[\\/]|smol-toml[\\/])|[\\/]dist[\\/](src[\\/](sources[\\/]index|image[\\/](manifest|platform|sha256|types)|registry[\\/][^\\/]+|layers[\\/](?!unpack-job|unpack-worker-main|job-runner|protocol)[^\\/]+)|store[\\/]write-blob)\.js$/;

/**
 * What a pull loads before it knows whether it must fetch: the pull command and the starter of the
 * unpacker. Apart from the pull chunk, so that a cold pull starts its unpacker (a Node process,
 * some 100 ms to start) before it loads the HTTP client, and both start-ups overlap.
 */
const PULL_START = /[\\/]dist[\\/]src[\\/](commands[\\/]pull|library[\\/](pull-images|image-records)|cli[\\/]progress|layers[\\/](job-runner|protocol))\.js$/;

/**
 * got imports node:tls, node:https and http2-wrapper at its top, so loading it loaded TLS even
 * for a pull from a plain-HTTP registry on loopback (a quarter of that pull's start). In the
 * bundle those three imports become getters that load the module on first use: only a request
 * to an HTTPS registry (or TLS options) touches them.
 */
const GOT_OPTIONS = /[\\/]node_modules[\\/]got[\\/]dist[\\/]source[\\/]core[\\/]options\.js$/;
const LAZY_IMPORTS = [
  ["import { checkServerIdentity } from 'node:tls';", "const checkServerIdentity = (...args) => require('node:tls').checkServerIdentity(...args);"],
  ["import https from 'node:https';", "const https = { get request() { return require('node:https').request; } };"],
  ["import http2wrapper from 'http2-wrapper';", "const http2wrapper = { get auto() { return require('http2-wrapper').auto; }, get globalAgent() { return require('http2-wrapper').globalAgent; } };"],
];
/**
 * got's options.js imports cacheable-lookup (which reads node:dns at its top) for its `dnsCache`
 * option, which flux never sets: in the bundle the class is required where that option makes one.
 */
const LAZY_CACHEABLE_LOOKUP = [
  ["import CacheableLookup from 'cacheable-lookup';", ''],
  ['globalDnsCache = new CacheableLookup();', "globalDnsCache = new (require('cacheable-lookup').default)();"],
];
/**
 * got gives each request an id for its diagnostics channels (which flux never subscribes to) from
 * node:crypto's randomUUID: loading node:crypto (2-3 ms) before a pull's first request, which needs
 * no hash. In the bundle the id is a version 4 UUID of the kernel's random bytes, as flux's own
 * run ids are; node:crypto then loads once a digest is due, while the registry answers.
 */
const GOT_DIAGNOSTICS = /[\\/]node_modules[\\/]got[\\/]dist[\\/]source[\\/]core[\\/]diagnostics-channel\.js$/;
const RANDOM_UUID = [
  ["import { randomUUID } from 'node:crypto';", `import { closeSync as __closeSync, openSync as __openSync, readSync as __readSync } from 'node:fs';
function randomUUID() {
    const b = Buffer.alloc(16);
    const fd = __openSync('/dev/urandom', 'r');
    try {
        __readSync(fd, b, 0, 16, null);
    }
    finally {
        __closeSync(fd);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = b.toString('hex');
    return \`\${h.slice(0, 8)}-\${h.slice(8, 12)}-\${h.slice(12, 16)}-\${h.slice(16, 20)}-\${h.slice(20)}\`;
}`],
];
/**
 * decompress-response (which flux never calls: every request sets `decompress: false`) asks
 * node:zlib at its top whether it has zstd; in the bundle it asks when it is called.
 */
const DECOMPRESS_RESPONSE = /[\\/]node_modules[\\/]decompress-response[\\/]index\.js$/;
const ZSTD_PROBE = [
  ["const supportsZstd = typeof zlib.createZstdDecompress === 'function';", ''],
  ['if (supportsZstd) {', "if (typeof zlib.createZstdDecompress === 'function') {"],
];
/**
 * got's cacheable-request imports keyv at its top, so loading the pull chunk loaded keyv from
 * node_modules (some 10-30 ms before a pull's first request), though only got's `cache` option,
 * which flux never sets, makes it use keyv. In the bundle that import becomes a function that
 * loads keyv on first use. (The image index loads keyv itself, on its first write.)
 */
const CACHEABLE_REQUEST = /[\\/]node_modules[\\/]cacheable-request[\\/]dist[\\/]index\.js$/;
const KEYV_IMPORT = 'import { Keyv } from "keyv";';
function lazyKeyv() {
  return {
    name: 'flux-lazy-keyv',
    transform(code, id) {
      if (!CACHEABLE_REQUEST.test(id)) return null;
      if (!code.includes(KEYV_IMPORT)) throw new Error(`${id} no longer has \`${KEYV_IMPORT}\`: update lazyKeyv in scripts/bundle.mjs`);
      const rest = code.replace(KEYV_IMPORT, '');
      const uses = rest.match(/\bKeyv\b/g)?.length ?? 0;
      const out = rest.replace(/\bnew Keyv\(/g, 'new (__lazyKeyv())(').replace(/\binstanceof Keyv\b/g, 'instanceof __lazyKeyv()');
      // Every use rewritten: a plain \`Keyv\` left over would be an undefined name at run time.
      if (/\bKeyv\b/.test(out.replace(/__lazyKeyv/g, ''))) throw new Error(`${id} uses Keyv in a way lazyKeyv does not rewrite (${uses} uses)`);
      return { code: `let __keyv;\nconst __lazyKeyv = () => (__keyv ??= require('keyv').Keyv);\n${out}`, map: null };
    },
  };
}

/**
 * @sindresorhus/is (got's type checks) builds two Intl.ListFormat at its top, for one error
 * message. The first Intl object a process makes loads ICU's locale data: 13-20 ms of the pull
 * chunk's 25 on the bench machine, before the first request. In the bundle both become objects
 * that make their formatter when a message needs one.
 */
const SINDRESORHUS_IS = /[\\/]node_modules[\\/]@sindresorhus[\\/]is[\\/]distribution[\\/]index\.js$/;
const LIST_FORMATS = [
  ["const andFormatter = new Intl.ListFormat('en', { style: 'long', type: 'conjunction' });", "const andFormatter = { format: (list) => new Intl.ListFormat('en', { style: 'long', type: 'conjunction' }).format(list) };"],
  ["const orFormatter = new Intl.ListFormat('en', { style: 'long', type: 'disjunction' });", "const orFormatter = { format: (list) => new Intl.ListFormat('en', { style: 'long', type: 'disjunction' }).format(list) };"],
];
/**
 * The edits above, each applied to the one dependency file it names: every `from` must be there
 * (the build refuses to run if a dependency changed shape), and `check` refuses a result that
 * still does at its top what the edits were to move.
 */
const DEPENDENCY_EDITS = [
  { file: GOT_OPTIONS, edits: [...LAZY_IMPORTS, ...LAZY_CACHEABLE_LOOKUP], table: 'LAZY_IMPORTS or LAZY_CACHEABLE_LOOKUP',
    check: (out) => /\bCacheableLookup\b/.test(out.replace(/`[^`]*`/g, '').replace(/\/\*[\s\S]*?\*\//g, '')) && 'uses CacheableLookup elsewhere' },
  { file: GOT_DIAGNOSTICS, edits: RANDOM_UUID, table: 'RANDOM_UUID' },
  { file: DECOMPRESS_RESPONSE, edits: ZSTD_PROBE, table: 'ZSTD_PROBE' },
  { file: SINDRESORHUS_IS, edits: LIST_FORMATS, table: 'LIST_FORMATS',
    check: (out) => /new Intl\./.test(out.replace(/\(list\) => new Intl\.ListFormat/g, '')) && 'makes another Intl object at its top' },
];
function dependencyEdits() {
  return {
    name: 'flux-dependency-edits',
    transform(code, id) {
      const d = DEPENDENCY_EDITS.find((e) => e.file.test(id));
      if (!d) return null;
      let out = code;
      for (const [from, to] of d.edits) {
        if (!out.includes(from)) throw new Error(`${id} no longer has \`${from}\`: update ${d.table} in scripts/bundle.mjs`);
        out = out.replace(from, to);
      }
      const wrong = d.check?.(out);
      if (wrong) throw new Error(`${id} ${wrong}: update ${d.table} in scripts/bundle.mjs`);
      return { code: out, map: null };
    },
  };
}

/**
 * commander and the command-line modules; the progress bars only pull, the password prompt only
 * logs in, the completion scripts are only written by `flux completion`, and the short form's
 * terminal check (node:tty) is only made by `flux IMAGE …`.
 */
const CLI = /[\\/]node_modules[\\/]commander[\\/]|[\\/]dist[\\/]src[\\/]cli[\\/](?!progress\.js$|progress-bars\.js$|prompt\.js$|short-form\.js$|completion-[a-z]+\.js$)[^\\/]+\.js$/;

const MARK = '__fluxModuleUrl';
const DIR_MARK = '__fluxModuleDir';

function ownModule(id) {
  return id.startsWith(join(ROOT, 'dist') + sep);
}

/** Rewrites `import.meta.url` so that each module keeps the URL of its unbundled file. */
function keepModuleUrls(outDir) {
  return {
    name: 'flux-keep-module-urls',
    transform(code, id) {
      if (!ownModule(id) || !code.includes('import.meta.')) return null;
      const rel = relative(outDir, id).split(sep).join('/');
      const out = code
        .replaceAll('import.meta.url', `${MARK}(${JSON.stringify(rel)})`)
        .replaceAll('import.meta.dirname', `${DIR_MARK}(${JSON.stringify(rel)})`);
      return { code: out, map: null };
    },
    renderChunk(code, chunk) {
      if (!code.includes(MARK) && !code.includes(DIR_MARK)) return null;
      const from = dirname(join(outDir, chunk.fileName));
      const fromChunk = (lit) => {
        const path = relative(from, join(outDir, JSON.parse(lit))).split(sep).join('/');
        return path.startsWith('.') ? path : `./${path}`;
      };
      const out = code
        .replace(new RegExp(`${MARK}\\(("[^"]*")\\)`, 'g'), (_, lit) => `new URL(${JSON.stringify(fromChunk(lit))}, require("node:url").pathToFileURL(__filename)).href`)
        // import.meta.dirname: the directory of the module's tsc output file, as a plain path.
        .replace(new RegExp(`${DIR_MARK}\\(("[^"]*")\\)`, 'g'), (_, lit) => `require("node:path").join(__dirname, ${JSON.stringify(dirname(fromChunk(lit)))})`);
      return { code: out, map: null };
    },
  };
}

/**
 * store/unpack/pax.js replaces tar-stream's PAX decoder by assigning to the exports of
 * tar-stream's headers.js, which it finds next to tar-stream's main file. With tar-stream bundled
 * that file on disk is not the copy the bundled parser uses, so in the bundle the lookup becomes
 * an import of headers.js, the very module the bundled extract.js requires.
 */
const PAX = /[\\/]dist[\\/]store[\\/]unpack[\\/]pax\.js$/;
const PAX_LOOKUP = "const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js'));";
function bundledPaxHeaders() {
  const headersFile = join(dirname(realpathSync(createRequire(import.meta.url).resolve('tar-stream'))), 'headers.js');
  return {
    name: 'flux-bundled-pax-headers',
    transform(code, id) {
      if (!PAX.test(id)) return null;
      if (!code.includes(PAX_LOOKUP)) throw new Error(`${id} no longer finds tar-stream's headers.js as \`${PAX_LOOKUP}\`: update PAX_LOOKUP in scripts/bundle.mjs`);
      return { code: `import __tarStreamHeaders from ${JSON.stringify(headersFile)};\n${code.replace(PAX_LOOKUP, 'const headers = __tarStreamHeaders;')}`, map: null };
    },
  };
}

/** Writes a file whole: a flux starting meanwhile sees the old one or the new one. */
function writeAtomic(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * The main and pull chunks are compiled by bin/flux.js with a code cache, and code compiled that way
 * has no working import() (Node 20: the callback is not restored from a cache). Its lazy loads
 * must be of flux's own modules, which the bundle turns into require() of their chunks; a
 * package or built-in loaded lazily goes behind a small module of its own.
 */
function refuseImportExpressions(fileName, code) {
  const found = [];
  const walk = (node) => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (node.type === 'ImportExpression') found.push(code.slice(node.start, node.end));
    for (const key of Object.keys(node)) if (key !== 'parent') walk(node[key]);
  };
  walk(parseAst(code, { sourceType: 'script' }, fileName));
  if (found.length) throw new Error(`the chunk ${fileName} uses import(), which fails once it is compiled with a code cache: ${found.join(', ')}`);
}

/**
 * The V8 code cache of the main chunk, made by a separate plain `node` (a cache only fits the
 * Node and the flags that made it). Without one flux still starts, only slower.
 */
function writeCodeCache(outDir, mainFile) {
  const cacheFile = `${mainFile}.v8`;
  const script = `require(${JSON.stringify(join(ROOT, 'bin/flux.js'))}).writeCodeCache(${JSON.stringify(join(outDir, mainFile))}, ${JSON.stringify(join(outDir, cacheFile))})`;
  try {
    execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    return cacheFile;
  } catch {
    console.warn('bundle: no code cache written (this Node cannot make one); flux starts without it');
    return null;
  }
}

/**
 * The V8 code cache of the pull chunk, made the same way after one request on loopback (see
 * bin/flux.js): a pull then compiles got, the registry client and got's request path from it
 * instead of from source. Without one a pull still works, only slower. A chunk that loads one of
 * LAZY_BUILTINS at its top fails the build (exit 3 of the writer).
 */
function writePullCodeCache(outDir, mainFile, pullFile) {
  const cacheFile = `${pullFile}.v8`;
  const args = [...[mainFile, pullFile, cacheFile].map((f) => JSON.stringify(join(outDir, f))), JSON.stringify(LAZY_BUILTINS)].join(', ');
  const script = `require(${JSON.stringify(join(ROOT, 'bin/flux.js'))}).writePullCodeCache(${args}).catch((err) => { process.stderr.write(\`\${err.message}\\n\`); process.exit(err.code === 'LAZY_BUILTIN_LOADED' ? 3 : 1); })`;
  try {
    execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    return cacheFile;
  } catch (err) {
    if (err.status === 3) throw new Error('the pull chunk loads a built-in of LAZY_BUILTINS at its top: make that use lazy too (scripts/bundle.mjs)');
    console.warn('bundle: no code cache written for the pull chunk; a pull starts without it');
    return null;
  }
}

/**
 * The bundler's runtime helpers (a chunk of their own, which every chunk requires) are copied into
 * the chunks a run and a cold pull load before the pull's first request (the main chunk, the pull's
 * starter and the pull chunk): they then read, resolve and compile one file less, 0.7-1 ms. The
 * helpers keep no state, so the other chunks may keep using the shared copy.
 */
function inlineRuntime(chunks, code) {
  const runtime = chunks.find((c) => /^chunks\/rolldown-runtime-[^/]+\.cjs$/.test(c.fileName));
  // Copied only while the helpers use no `require` or `module` of their own (strings aside).
  if (!runtime || /\b(require|module)\b/.test(runtime.code.replace(/\/\/.*$/gm, '').replace(/"(?:[^"\\\n]|\\.)*"/g, '""'))) return;
  const call = `require(${JSON.stringify(`./${runtime.fileName.slice('chunks/'.length)}`)})`;
  for (const chunk of chunks.filter((c) => c.name === 'run' || c.name === 'pull-start' || c.name === 'pull')) {
    const text = code.get(chunk.fileName);
    if (text.includes(call)) code.set(chunk.fileName, text.replace(call, `((exports) => {\n${runtime.code}\nreturn exports;\n})({})`));
  }
}

/**
 * Built-in modules the pull chunk needs only once the registry has answered (hashes, file writes)
 * or never in this process (zlib: the unpacker decompresses; dns: flux sets no dnsCache): loading
 * them at the chunk's top took 4-6 ms before a cold pull's first request. The bundler requires
 * every external at the top of the chunk, so each of these becomes an object that requires the
 * module at its first property read. Only property reads are rewritten; any other use of the
 * binding fails the build, and the build's code cache writer fails it too if one of them is still
 * loaded by the chunk's top level (bin/flux.js, writePullCodeCache). The other built-ins that the
 * bundler wraps in a namespace object (a default import: got's modules import node:http, node:net,
 * node:process and five more that way) become the same object, which reads the module's
 * properties when asked instead of copying them all at load (some 0.7 ms).
 */
export const LAZY_BUILTINS = ['node:crypto', 'node:zlib', 'node:dns', 'node:fs/promises'];
const LAZY_BUILTIN_HELPER = `function __fluxLazyBuiltin(id, namespace) {
  let mod;
  // A namespace object (the bundler's interop for a default import) has the module as \`default\`.
  return new Proxy({}, { get: (_, key) => (namespace && key === 'default' ? (mod ??= require(id)) : (mod ??= require(id))[key]) });
}
`;
function lazyBuiltins(fileName, text) {
  let out = text;
  const namespaced = [...text.matchAll(/^let (\w+) = require\(("node:[\w/]+")\);\n\1 = require_rolldown_runtime\.__toESM\(\1, 1\);\n/gm)].map((m) => JSON.parse(m[2]));
  for (const id of new Set([...LAZY_BUILTINS, ...namespaced])) {
    const line = new RegExp(`^let (\\w+) = require\\(${JSON.stringify(id).replace(/[/]/g, '\\/')}\\);\\n(?:\\1 = require_rolldown_runtime\\.__toESM\\(\\1, 1\\);\\n)?`, 'm');
    const m = out.match(line);
    if (!m) continue;
    const name = m[1];
    const namespace = m[0].includes('__toESM');
    out = out.replace(m[0], `let ${name} = __fluxLazyBuiltin(${JSON.stringify(id)}, ${namespace});\n`);
    const uses = [...out.matchAll(new RegExp(`\\b${name}\\b(.)`, 'g'))].filter((u) => u[1] !== '.' && !out.slice(u.index - 4, u.index).startsWith('let '));
    if (uses.length) throw new Error(`${fileName} uses ${name} (${id}) other than by reading a property: update lazyBuiltins in scripts/bundle.mjs`);
  }
  if (out === text) return text;
  const firstLet = out.indexOf('\nlet ');
  return `${out.slice(0, firstLet + 1)}${LAZY_BUILTIN_HELPER}${out.slice(firstLet + 1)}`;
}

/**
 * Every character outside ASCII becomes a \u escape. Node reads a pure-ASCII file into a
 * one-byte string: for the main chunk about 0.6 ms sooner than with the dozen other characters it
 * had (… ≈ —). They occur only in strings, templates and comments, where the escape means the
 * same; only a raw template would see the difference, so a chunk with one is refused.
 */
function asciiOnly(fileName, text) {
  if (!/[^\x00-\x7f]/.test(text)) return text;
  if (text.includes('String.raw')) throw new Error(`${fileName} has both String.raw and characters outside ASCII: escaping them would change the raw strings`);
  return text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The unpack worker (a Node process of its own that every rootless cold pull starts) as one
 * self-contained CommonJS file: unbundled it loads two dozen ES modules. It shares no chunk with
 * the command line's bundle, so it never loads the run chunk for the few helpers both use.
 */
async function bundleWorker(outDir) {
  const result = await build({
    input: { 'unpack-worker': WORKER },
    platform: 'node',
    logLevel: 'warn',
    external: (id) => WORKER_EXTERNAL.some((p) => id === p || id.startsWith(`${p}/`)),
    plugins: [keepModuleUrls(outDir), bundledPaxHeaders()],
    output: { dir: outDir, format: 'cjs', entryFileNames: '[name].cjs', codeSplitting: false },
    write: false,
  });
  const chunks = result.output.filter((o) => o.type === 'chunk');
  if (chunks.length !== 1 || chunks[0].fileName !== WORKER_BUNDLE) throw new Error(`the unpack worker did not bundle into one file: ${chunks.map((c) => c.fileName).join(', ')}`);
  writeAtomic(join(outDir, WORKER_BODY), asciiOnly(WORKER_BODY, chunks[0].code));
  await writeWorkerCodeCache(outDir);
  writeAtomic(join(outDir, WORKER_BUNDLE), WORKER_LOADER);
}

/** The worker's code, which the small file flux starts (WORKER_LOADER) compiles with its code cache. */
const WORKER_BODY = 'unpack-worker-body.cjs';

/**
 * What a rootless cold pull starts: it compiles the worker's code from the V8 code cache the
 * build wrote beside it, as bin/flux.js does for the main chunk (the bundled CommonJS modules,
 * tar-stream's among them, are wrapped in parentheses, so V8 compiles them eagerly and the cache
 * holds them). A missing or refused cache (another Node) only makes the start slower.
 */
const WORKER_LOADER = `'use strict';
// Written by scripts/bundle.mjs: starts the unpack worker (${WORKER_BODY}) from its code cache.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const vm = require('node:vm');
const Module = module.constructor;
const file = join(__dirname, ${JSON.stringify(WORKER_BODY)});
let cachedData;
try {
  cachedData = readFileSync(\`\${file}.v8\`);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(__dirname);
require.cache[file] = mod;
script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, __dirname);
`;

/**
 * The worker's code cache, made by a plain \`node\` of its own (a cache fits only the Node and flags
 * that made it), after it has unpacked a small layer (scripts/unpack-training.mjs).
 */
async function writeWorkerCodeCache(outDir) {
  const body = join(outDir, WORKER_BODY);
  const training = mkdtempSync(join(tmpdir(), 'flux-build-unpack-'));
  const script = [
    "const { readFileSync, writeFileSync, renameSync } = require('node:fs');",
    "const vm = require('node:vm');",
    `const file = ${JSON.stringify(body)};`,
    "const s = new vm.Script(require('node:module').wrap(readFileSync(file, 'utf8')), { filename: file });",
    // Run with one unpack job: every module's top level, the job loop and the unpack path are
    // compiled by the time it ends, and the cache then holds them too.
    "s.runInThisContext().call(module.exports, module.exports, require('node:module').createRequire(file), module, file, require('node:path').dirname(file));",
    "process.on('exit', () => { writeFileSync(`${file}.v8.tmp`, s.createCachedData(), { mode: 0o644 }); renameSync(`${file}.v8.tmp`, `${file}.v8`); });",
  ].join('\n');
  try {
    const input = await trainingJobs(training);
    const out = execFileSync(process.execPath, ['-e', script], { input, stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'utf8' });
    // The unpack must have worked, or the cache holds an error path instead of the unpack's.
    if (!out.split('\n').some((l) => l.startsWith('{"id":0,"result":{"ok":true'))) throw new Error(`the worker's training unpack failed: ${out.trim()}`);
  } catch (err) {
    rmSync(`${body}.v8`, { force: true });
    console.warn(`bundle: no code cache written for the unpack worker; it starts without one (${err.message})`);
  } finally {
    rmSync(training, { recursive: true, force: true });
  }
}

/**
 * dist/koffi-native.json: the native module `require('koffi')` loads on this machine (its path from
 * the installation's root) and koffi's version, which src/koffi.ts loads directly (see there).
 * Without it flux requires koffi.
 */
function writeKoffiRecord(outDir) {
  const record = join(outDir, 'koffi-native.json');
  const req = createRequire(import.meta.url);
  try {
    const before = new Set(Object.keys(req.cache));
    req('koffi');
    const natives = Object.keys(req.cache).filter((k) => k.endsWith('.node') && !before.has(k));
    if (natives.length !== 1) throw new Error(`koffi loaded ${natives.length} native modules`);
    const { version } = JSON.parse(readFileSync(join(dirname(req.resolve('koffi')), 'package.json'), 'utf8'));
    // From the installation's root (the directory holding dist/), as seen through its own
    // node_modules (which the module cache names by its real path): a packed copy loads its own.
    const modules = join(ROOT, 'node_modules');
    const inside = relative(realpathSync(modules), natives[0]);
    if (inside.startsWith('..') || isAbsolute(inside)) throw new Error(`its native module ${natives[0]} is not under ${modules}`);
    writeAtomic(record, `${JSON.stringify({ native: relative(dirname(outDir), join(modules, inside)), version })}\n`);
  } catch (err) {
    rmSync(record, { force: true });
    console.warn(`bundle: koffi is loaded through its package (${err.message})`);
  }
}

/**
 * The chunks `flux matrix` loads beyond the main one (its command and `flux.matrix()`): bin/flux.js
 * compiles them with the user's code cache, learned by their first matrix, as it does the pull's.
 */
const MATRIX_MODULES = ['src/commands/matrix.js', 'src/library/matrix-run.js'];

function matrixChunks(chunks) {
  return MATRIX_MODULES.map((m) => {
    const c = chunks.find((k) => k.moduleIds.includes(join(ROOT, 'dist', m)));
    if (!c) throw new Error(`the bundle has no chunk holding dist/${m}`);
    if (c.name === 'run') throw new Error(`dist/${m} is in the main chunk: a warm run would load the matrix`);
    return c;
  }).filter((c, i, all) => all.indexOf(c) === i);
}

/** Chunks of earlier builds, kept a while for a flux that started from the old entry. */
function pruneOldChunks(outDir, keep) {
  const dir = join(outDir, 'chunks');
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const path = join(dir, name);
    if (!keep.has(`chunks/${name}`) && Date.now() - statSync(path).mtimeMs > 10 * 60_000) rmSync(path, { force: true });
  }
}

export async function bundle(outDir = OUT) {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`tsc -p tsconfig.json\` first.`);
  if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run \`tsc -p tsconfig.json\` first.`);
  writeKoffiRecord(outDir);
  // Before the entry record: a flux started from the new entry finds the worker it expects.
  await bundleWorker(outDir);
  const result = await build({
    input: { flux: ENTRY },
    platform: 'node',
    logLevel: 'warn',
    onLog(level, log, handler) {
      // flux imports some modules both ways on purpose (lazily on one path, eagerly on another).
      if (log.code === 'INEFFECTIVE_DYNAMIC_IMPORT') return;
      handler(level, log);
    },
    external: (id) => EXTERNAL.some((p) => id === p || id.startsWith(`${p}/`)),
    plugins: [keepModuleUrls(outDir), dependencyEdits(), lazyKeyv()],
    output: {
      dir: outDir,
      format: 'cjs',
      entryFileNames: '[name].cjs',
      chunkFileNames: 'chunks/[name]-[hash].cjs',
      codeSplitting: {
        // The command line (commander included) goes with it: every command needs it anyway.
        groups: [
          { name: 'run', test: (id) => RUN_ROOTS.some((r) => id === join(ROOT, 'dist', r)) || CLI.test(id) },
          { name: 'pull-start', test: (id) => PULL_START.test(id) },
          { name: 'pull', test: (id) => PULL.test(id) },
        ],
      },
    },
    write: false,
  });
  const chunks = result.output.filter((o) => o.type === 'chunk');
  const code = new Map(chunks.map((c) => [c.fileName, c.code]));
  inlineRuntime(chunks, code);
  const pullChunk = chunks.find((c) => c.name === 'pull');
  if (pullChunk) code.set(pullChunk.fileName, lazyBuiltins(pullChunk.fileName, code.get(pullChunk.fileName)));
  for (const [name, text] of code) code.set(name, asciiOnly(name, text));
  // Chunks first, the entry that names them last.
  for (const c of [...chunks].sort((a, b) => Number(a.isEntry) - Number(b.isEntry))) writeAtomic(join(outDir, c.fileName), code.get(c.fileName));
  const manifest = Object.fromEntries(chunks.map((c) => [c.fileName, c.moduleIds.filter((m) => !m.startsWith('\0')).map((m) => relative(ROOT, m).split(sep).join('/'))]));
  writeAtomic(join(outDir, 'flux-chunks.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  const main = chunks.find((c) => c.name === 'run');
  if (!main) throw new Error('the bundle has no run chunk');
  refuseImportExpressions(main.fileName, code.get(main.fileName));
  const codeCache = writeCodeCache(outDir, main.fileName);
  const pull = chunks.find((c) => c.name === 'pull');
  if (pull) refuseImportExpressions(pull.fileName, code.get(pull.fileName));
  const pullCodeCache = pull ? writePullCodeCache(outDir, main.fileName, pull.fileName) : null;
  // The chunk's name hashes what the bundler made of it; `id` hashes what was written.
  const id = createHash('sha256').update(code.get(main.fileName)).digest('hex').slice(0, 16);
  const idOf = (c) => (c ? createHash('sha256').update(code.get(c.fileName)).digest('hex').slice(0, 16) : null);
  const pullStart = chunks.find((c) => c.name === 'pull-start');
  const matrix = matrixChunks(chunks);
  for (const c of matrix) refuseImportExpressions(c.fileName, code.get(c.fileName));
  const record = {
    main: main.fileName,
    codeCache,
    id,
    pull: pull?.fileName ?? null,
    pullCodeCache,
    pullId: idOf(pull),
    pullStart: pullStart?.fileName ?? null,
    pullStartId: idOf(pullStart),
    matrix: matrix.map((c) => [c.fileName, idOf(c)]),
  };
  writeAtomic(join(outDir, 'flux-entry.json'), `${JSON.stringify(record, null, 1)}\n`);
  pruneOldChunks(outDir, new Set([...chunks.map((c) => c.fileName), ...(codeCache ? [codeCache] : []), ...(pullCodeCache ? [pullCodeCache] : [])]));
  return chunks;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const chunks = await bundle();
  if (process.env.FLUX_BUNDLE_VERBOSE) {
    for (const c of chunks) console.log(`${c.fileName}\t${c.code.length}\t${c.moduleIds.map((m) => relative(ROOT, m)).join(' ')}`);
  }
  const run = chunks.find((c) => c.name === 'run');
  console.log(`bundled dist/flux.cjs and ${chunks.length - 1} chunks; a run loads dist/${run?.fileName} (${Math.round((run?.code.length ?? 0) / 1024)} KiB) with its code cache`);
}
