/**
 * koffi, loaded straight from the native module it chose when flux was built.
 *
 * `require('koffi')` resolves the package through its exports map, loads its platform wrapper,
 * reads Node's ELF headers to tell glibc from musl and resolves the platform package: 7–10 ms of
 * a pulling process's main thread (which is then not reading the registry's answer), where
 * loading the native module itself takes about 1 ms. The build (scripts/bundle.mjs) records
 * which native module koffi loaded on this machine (its path from the installation's root) and
 * its version in dist/koffi-native.json; the functions flux calls (load, func, errno) are the
 * native module's own, which koffi's wrapper re-exports. Without the record, or when it no longer
 * matches the installed koffi, koffi is required the usual way.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Koffi = typeof import('koffi');

/** The record's place: dist/ holds it, beside the bundle's chunks/, the unpack worker and tsc's src/. */
const KOFFI_RECORD = 'koffi-native.json';

function distDir(): string {
  if (typeof __filename === 'string' && __filename.endsWith('.cjs')) {
    const dir = dirname(__filename);
    return basename(dir) === 'chunks' ? dirname(dir) : dir;
  }
  return fileURLToPath(new URL('..', import.meta.url));
}

let loaded: Koffi | undefined;

export function loadKoffi(): Koffi {
  loaded ??= recorded() ?? (createRequire(import.meta.url)('koffi') as Koffi);
  return loaded;
}

function recorded(): Koffi | undefined {
  try {
    const dist = distDir();
    const { native, version } = JSON.parse(readFileSync(join(dist, KOFFI_RECORD), 'utf8')) as { native?: unknown; version?: unknown };
    // Relative to the installation (the directory holding dist/): a packed and installed copy
    // loads its own koffi, never the one of the tree it was built in.
    if (typeof native !== 'string' || isAbsolute(native) || typeof version !== 'string') return undefined;
    const mod = createRequire(import.meta.url)(resolve(dist, '..', native)) as Partial<Koffi> & { version?: unknown };
    // A koffi upgraded since the build has another version: its native module is not ours to guess.
    if (mod.version !== version || typeof mod.load !== 'function' || typeof mod.errno !== 'function') return undefined;
    return mod as Koffi;
  } catch {
    return undefined;
  }
}
