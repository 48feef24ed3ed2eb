#!/usr/bin/env -S node --
// `--` ends node's own options: Node reads an `--env-file FILE` anywhere on its command line, the
// script's arguments included, and exits with "node: FILE: not found" when FILE is missing, before
// flux could say which flag is wrong (`flux run --env-file`).
'use strict';
// CommonJS on purpose (bin/package.json): Node 20 starts a CommonJS entry about 10 ms sooner than
// an ES module one, and a warm `flux run` is measured against `node -e 0`. One file: each module
// Node has to find and load costs a run a quarter of a millisecond or more.
/**
 * Loads the bundled command line (dist/, written by `npm run build`) the fast way: its main chunk
 * is compiled with a V8 code cache, so a warm `flux run` does not parse and compile two hundred
 * kilobytes of JavaScript (commander included) on every start.
 *
 * Two caches: the build's, beside the chunk (the top level and the run command's definition),
 * and the user's own, written after their first run of an image, which also holds every function
 * that run compiled on its way (reading the image, building the sandbox): a few ms more off each
 * later run. It is written again after the first run of each other kind (another network, or a matrix), whose
 * code it did not hold yet. V8 refuses a cache made by another Node or with other flags (`cachedDataRejected`);
 * the chunk then compiles as usual and the user's cache is written afresh. A cache is only ever
 * read for the chunk it was made from: the chunk's name carries a hash of its content, and each
 * cache is named after the chunk.
 *
 * The chunk becomes an ordinary CommonJS module: it is entered in require.cache under its own
 * path before it runs, so the other chunks that require it get this very instance.
 */
const { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');
// The CommonJS loader's own class (requiring node:module would cost half a millisecond more).
const Module = module.constructor;
const vm = require('node:vm');

const DIST = join(__dirname, '..', 'dist');
const ENTRY = join(DIST, 'flux-entry.json');

/** The bundle's entry record, or undefined when there is no bundle or the tsc output is newer. */
function bundleEntry() {
  if (process.env.FLUX_UNBUNDLED === '1') return undefined;
  try {
    const built = statSync(ENTRY).mtimeMs;
    const compiled = statSync(join(DIST, 'src/cli/main.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    // A bare `tsc` rebuild after the bundle must not be shadowed by the older bundle.
    if (built < compiled) return undefined;
    return JSON.parse(readFileSync(ENTRY, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The chunk holds no import() (scripts/bundle.mjs refuses one): code compiled here with a cache
 * could not run it. Its lazy loads are require() calls of other chunks.
 */
function compile(file, cachedData) {
  return new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData ? { cachedData } : {}) });
}

/** Runs a compiled chunk as the CommonJS module at `file`, registered before it runs. */
function instantiate(script, file) {
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(dirname(file));
  require.cache[file] = mod;
  try {
    script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dirname(file));
  } catch (err) {
    delete require.cache[file];
    throw err;
  }
  mod.loaded = true;
  return mod.exports;
}

function readCache(file) {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** The kinds of run a learned cache has seen (see learn), one a line. */
function readKinds(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function writeAtomic(file, data, mode) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

/**
 * The user's cache for `chunk`: $XDG_CACHE_HOME/flux (or ~/.cache/flux), per Node version and per
 * content (`id`, a hash of the chunk as written: the build may change a chunk after naming it).
 */
function userCacheFile(chunk, id) {
  const base = process.env.XDG_CACHE_HOME || (process.env.HOME ? join(process.env.HOME, '.cache') : '');
  return base ? join(base, 'flux', 'code-cache', `${basename(chunk)}-${id ? `${id}-` : ''}${process.version}.v8`) : undefined;
}

/**
 * The other chunks compiled with a code cache: those a pull loads (the pull's starter, loaded by
 * every `flux pull`, and the pull chunk, loaded only when a pull must fetch) and those a matrix
 * loads (its command and `flux.matrix()`). Each has the user's own cache, learned by the first
 * pull that fetched or the first matrix (see loadCli), else the build's (the pull chunk has one).
 * The main chunk requires them as plain CommonJS files, so the loader for `.cjs` files takes those
 * over and hands every other to Node's own. Returns, for each, the kind of command that teaches
 * its cache (`pull`, `matrix`), where the user's cache for it goes and the compiled chunk once
 * loaded.
 */
function cacheSideChunks(entry) {
  const chunks = new Map();
  const side = [
    [entry.pullStart, entry.pullStartId, undefined, 'pull'],
    [entry.pull, entry.pullId, entry.pullCodeCache, 'pull'],
    ...(Array.isArray(entry.matrix) ? entry.matrix.map(([name, id]) => [name, id, undefined, 'matrix']) : []),
  ];
  for (const [name, id, built, family] of side) {
    if (!name) continue;
    const file = join(DIST, name);
    chunks.set(file, { family, own: userCacheFile(file, id), built: built ? join(DIST, built) : undefined, script: undefined, fromOwn: false });
  }
  if (chunks.size === 0) return chunks;
  const fallback = Module._extensions['.cjs'] ?? Module._extensions['.js'];
  Module._extensions['.cjs'] = function loadCjs(mod, filename) {
    const c = chunks.get(filename);
    if (!c) return fallback.call(this, mod, filename);
    const own = c.own && readCache(c.own);
    c.script = compile(filename, own ?? (c.built ? readCache(c.built) : undefined));
    c.fromOwn = own !== undefined && !c.script.cachedDataRejected;
    c.script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(filename), mod, filename, dirname(filename));
  };
  return chunks;
}

/**
 * The command line's exports (`main` and friends), from the bundle or from the tsc output, and
 * `learn(kind)`: after a run, keep what it compiled in the user's cache, unless that cache was used
 * and has learned this kind of run already.
 */
async function loadCli() {
  const entry = bundleEntry();
  if (!entry) return { cli: await import('../dist/src/cli/main.js'), learn: () => undefined };
  const main = join(DIST, entry.main);
  const sideChunks = cacheSideChunks(entry);
  const own = userCacheFile(main, entry.id);
  const ownData = own && readCache(own);
  const script = compile(main, ownData ?? (entry.codeCache ? readCache(join(DIST, entry.codeCache)) : undefined));
  const fromOwn = ownData !== undefined && !script.cachedDataRejected;
  const learn = (kind) => {
    if (!own) return;
    const kindsFile = `${own}.kinds`;
    // A run of another kind (another network) compiled code the cache lacks: learned once more,
    // the cache then holds both (the functions it brought were compiled too).
    const learned = fromOwn ? readKinds(kindsFile) : [];
    // The chunks this kind of command loaded (a pull's, a matrix's) teach their caches too: a
    // cache of theirs that was missing or refused is learned again by the next such command.
    const family = kind.split(':')[0];
    const taught = [...sideChunks.values()].filter((c) => c.family === family && c.script !== undefined);
    const again = taught.some((c) => !c.fromOwn);
    if (learned.includes(kind) && !again) return;
    try {
      mkdirSync(dirname(own), { recursive: true, mode: 0o700 });
      writeAtomic(own, script.createCachedData(), 0o600);
      // A pull that fetched teaches its start, got's answers and the blob writes; a matrix its scheduling and reports.
      for (const c of taught) if (c.own) writeAtomic(c.own, c.script.createCachedData(), 0o600);
      writeAtomic(kindsFile, `${[...new Set([...learned, kind])].join('\n')}\n`, 0o600);
      // Caches of earlier builds or other Node versions would only pile up.
      const keep = new Set([basename(own), basename(kindsFile), ...[...sideChunks.values()].flatMap((c) => (c.own ? [basename(c.own)] : []))]);
      for (const name of readdirSync(dirname(own))) if (!keep.has(name)) rmSync(join(dirname(own), name), { force: true });
    } catch {
      // Only a speed-up: a read-only or full home changes nothing else.
    }
  };
  return { cli: instantiate(script, main), learn };
}

/**
 * Writes the build's code cache for the bundle's main chunk (in a Node of its own, so the flags
 * match a plain `flux` start): the chunk is loaded and the run command defined.
 */
function writeCodeCache(main, out) {
  const script = compile(main, undefined);
  instantiate(script, main).buildProgram('run');
  // Readable like the chunk itself: the users of an installation made by root need it too.
  writeAtomic(out, script.createCachedData(), 0o644);
}

/**
 * Writes the build's code cache for the pull chunk: the main chunk loaded, then the pull chunk,
 * whose top level (got and the registry client defined) the cache holds, and everything a first
 * request compiles on its way: the chunk asks a server on loopback for a manifest before the
 * cache is made, so that a pull compiles none of got's request path before its own first request.
 * `lazy` are built-in modules the chunk must not load at its top (scripts/bundle.mjs,
 * LAZY_BUILTINS): the build fails if it does.
 */
async function writePullCodeCache(main, pull, out, lazy = []) {
  instantiate(compile(main, undefined), main);
  const before = new Set(process.moduleLoadList);
  const script = compile(pull, undefined);
  const chunk = instantiate(script, pull);
  const loaded = lazy.filter((id) => !before.has(`NativeModule ${id.replace(/^node:/, '')}`) && process.moduleLoadList.includes(`NativeModule ${id.replace(/^node:/, '')}`));
  if (loaded.length) throw Object.assign(new Error(`the pull chunk loads ${loaded.join(', ')} at its top: something reads it there`), { code: 'LAZY_BUILTIN_LOADED' });
  await askOnce(chunk);
  writeAtomic(out, script.createCachedData(), 0o644);
}

/** One manifest asked for through the pull chunk's registry client, from a server on loopback. */
async function askOnce(chunk) {
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 }, layers: [] });
  const server = require('node:http').createServer((req, res) => {
    res.setHeader('content-type', 'application/vnd.oci.image.manifest.v1+json');
    res.end(manifest);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { source } = await chunk.sources_exports.openSource(`127.0.0.1:${server.address().port}/build/cache:latest`);
    await source.getManifest('latest');
    await source.close?.();
  } finally {
    server.close();
  }
}

module.exports = { loadCli, writeCodeCache, writePullCodeCache };

// `npm run build` requires this file for writeCodeCache; only `flux` itself runs the command line.
if (require.main === module) {
  let settled = false;
  // If the event loop drains before main settles (a stream that never ended), that is a failure, not success.
  process.on('exit', () => {
    if (settled) return;
    process.stderr.write('flux: internal error: stopped before the command finished.\n');
    process.exitCode = 125;
  });
  const argv = process.argv.slice(2);
  loadCli()
    .then(async ({ cli, learn }) => {
      await cli.main(argv);
      // The first run of each kind that got as far as its command teaches the code cache what such
      // a run compiles (125 is flux's own failure; any other status is the command's).
      const kind = cli.runKind?.();
      if (process.exitCode !== 125 && kind) learn(kind);
    })
    .catch((err) => {
      process.stderr.write(`flux: internal error: ${err?.message ?? String(err)}\n`);
      process.exitCode = 125;
    })
    .finally(() => {
      settled = true;
      // Everything the command started has been awaited by now (output to pipes, files and
      // terminals is written synchronously on Linux): exiting here spares Node's teardown, a few ms.
      process.exit();
    });
}
