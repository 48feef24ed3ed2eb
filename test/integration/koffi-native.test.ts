/**
 * koffi loaded from the native module the build recorded (dist/koffi-native.json), and through
 * its package whenever that record is missing or no longer matches the installed koffi. Each case
 * runs the built loader (dist/src/koffi.js) in a fresh Node, from a copy of dist/ holding
 * the record under test, and calls getpid(2) through what it loaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../helpers/user.js';

const BUILT = join(REPO_ROOT, 'dist/src/koffi.js');
const PROBE = `
import { createRequire } from 'node:module';
const { loadKoffi } = await import(process.argv[1]);
const koffi = loadKoffi();
const getpid = koffi.load('libc.so.6').func('int getpid()');
const cache = Object.keys(createRequire(import.meta.url).cache);
console.log(JSON.stringify({
  pid: getpid() === process.pid,
  natives: cache.filter((k) => k.endsWith('.node')),
  wrapper: cache.some((k) => k.endsWith('/node_modules/koffi/index.cjs')),
}));
`;

interface Probe { pid: boolean; natives: string[]; wrapper: boolean }

let dir: string;
const koffiVersion = async () => (JSON.parse(await readFile(join(REPO_ROOT, 'node_modules/koffi/package.json'), 'utf8')) as { version: string }).version;

/** Runs the built loader from a copy of dist/ whose record holds `text` (none when undefined). */
async function probe(text: string | undefined): Promise<Probe> {
  const root = await mkdtemp(join(dir, 'copy-'));
  const loader = join(root, 'dist/src/koffi.js');
  await mkdir(dirname(loader), { recursive: true });
  await copyFile(BUILT, loader);
  await writeFile(join(root, 'package.json'), '{"type":"module"}\n');
  await symlink(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  if (text !== undefined) await writeFile(join(root, 'dist/koffi-native.json'), text);
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', PROBE, loader], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out) as Probe;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-koffi-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the build's koffi record", () => {
  it("names the native module require('koffi') loads here, and koffi's version", async () => {
    const record = JSON.parse(await readFile(join(REPO_ROOT, 'dist/koffi-native.json'), 'utf8')) as { native: string; version: string };
    expect(record.version).toBe(await koffiVersion());
    // What a fresh Node loads for require('koffi') from the package.
    const out = execFileSync(process.execPath, ['-e', "require('koffi'); console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.endsWith('.node'))))"], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(record.native.startsWith('node_modules/')).toBe(true);
    expect(JSON.parse(out)).toEqual([realpathSync(join(REPO_ROOT, record.native))]);
  });
});

describe('loading koffi', () => {
  it('takes the recorded native module, found from the installation it is in, without koffi\'s package', async () => {
    const record = JSON.parse(await readFile(join(REPO_ROOT, 'dist/koffi-native.json'), 'utf8')) as { native: string };
    const r = await probe(JSON.stringify(record));
    expect(r).toEqual({ pid: true, natives: [realpathSync(join(REPO_ROOT, record.native))], wrapper: false });
  });

  it('goes through the package when the record names another koffi version, a missing file, a path outside the installation, or is absent or not JSON', async () => {
    const { native } = JSON.parse(await readFile(join(REPO_ROOT, 'dist/koffi-native.json'), 'utf8')) as { native: string };
    const real = realpathSync(join(REPO_ROOT, native));
    const version = await koffiVersion();
    const records = [
      JSON.stringify({ native, version: '0.0.1' }),
      JSON.stringify({ native: 'node_modules/none.node', version }),
      // The real module, named by an absolute path: a packed copy would load the builder's.
      JSON.stringify({ native: real, version }),
      undefined,
      '{"native": ',
    ];
    for (const text of records) {
      const r = await probe(text);
      expect(r.pid).toBe(true);
      expect(r.wrapper, text).toBe(true);
      expect(r.natives).toEqual([real]);
    }
  });
});
