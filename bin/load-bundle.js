'use strict';
/**
 * Loads the bundled command line (dist/, written by `npm run build`) the fast way: its main chunk
 * is compiled with the V8 code cache the build left beside it, so a warm `flux run` does not
 * parse and compile two hundred kilobytes of JavaScript (commander included) on every start.
 *
 * The chunk becomes an ordinary CommonJS module: it is entered in require.cache under its own
 * path before it runs, so the other chunks that require it get this very instance. V8 refuses a
 * cache made by another Node or with other flags (`cachedDataRejected`); the chunk then compiles
 * as usual. A cache is only ever read for the chunk it was written for: the chunk's name carries
 * a hash of its content, and the cache is named after the chunk.
 */
const { readFileSync, statSync, writeFileSync, renameSync } = require('node:fs');
const { dirname, join } = require('node:path');
const Module = require('node:module');
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

/** The command line's exports (`main` and friends), from the bundle or from the tsc output. */
async function loadCli() {
  const entry = bundleEntry();
  if (!entry) return import('../dist/src/cli/main.js');
  const main = join(DIST, entry.main);
  return instantiate(compile(main, entry.codeCache ? readCache(join(DIST, entry.codeCache)) : undefined), main);
}

/**
 * Writes the code cache for the bundle's main chunk (run by the build, in a Node of its own so
 * the flags match a plain `flux` start): the chunk is loaded and the run command defined, so the
 * cache holds what every run compiles first, not only the top level.
 */
function writeCodeCache(main, out) {
  const script = compile(main, undefined);
  const cli = instantiate(script, main);
  cli.buildProgram('run');
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, script.createCachedData());
  renameSync(tmp, out);
}

module.exports = { loadCli, writeCodeCache };
