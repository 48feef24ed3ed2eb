/**
 * `flux.matrix()` writes what `flux matrix` writes, when asked and only then: the results
 * directory, the JUnit and HTML reports and the lock file, through the package entry of an
 * installed flux (as package-entry.test.ts installs it), as the unprivileged test user. The call
 * prints nothing and leaves no signal listener behind.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushFixtures } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { REPO_ROOT, isRoot, removeStore, runAs, tempStore, testUser } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

requireTool('docker-registry');
requireTool('skopeo');
requireTool('newuidmap');

let reg: Registry;
let project: string;
let store: string;

const PROGRAM = `
import { Flux } from 'flux';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [ref, storeDir, dir] = process.argv.slice(2);
const flux = new Flux({ store: storeDir });
const listeners = () => ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit'].map((s) => process.listenerCount(s));
const before = listeners();
const messages = [];
const records = await flux.matrix({
  images: [ref], command: ['sh', '-c', 'echo hello-from-matrix; echo warn >&2'], network: 'none',
  results: join(dir, 'results'), junit: join(dir, 'report.xml'), html: join(dir, 'report.html'), lock: join(dir, 'flux.lock'),
  onMessage: (m) => messages.push(m),
});
const read = (p) => (existsSync(p) ? readFileSync(p, 'utf8') : null);
process.stdout.write(JSON.stringify({
  records, messages, listeners: { before, after: listeners() },
  resultsJson: JSON.parse(read(join(dir, 'results', 'results.json')) ?? 'null'),
  runStdout: read(join(dir, 'results', ref.replace(/[^A-Za-z0-9._-]+/g, '_'), 'stdout')),
  junit: read(join(dir, 'report.xml')),
  html: read(join(dir, 'report.html')),
  lock: read(join(dir, 'flux.lock')),
}));
`;

beforeAll(async () => {
  reg = await startRegistry();
  await pushFixtures(reg, ['busybox']);
  store = await tempStore();
  const user = await testUser();
  project = await mkdtemp(join(tmpdir(), 'flux-lib-matrix-'));
  const pkgDir = join(project, 'node_modules', 'flux');
  await mkdir(pkgDir, { recursive: true });
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], { cwd: REPO_ROOT, encoding: 'utf8' })) as { filename: string }[];
  execFileSync('tar', ['-xzf', join(project, packed[0]!.filename), '-C', pkgDir, '--strip-components=1']);
  await symlink(realpathSync(join(REPO_ROOT, 'node_modules')), join(pkgDir, 'node_modules'));
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'uses-flux-matrix', type: 'module', dependencies: { flux: '*' } }));
  await writeFile(join(project, 'main.mjs'), PROGRAM);
  await mkdir(join(project, 'out'));
  if (isRoot) execFileSync('chown', ['-R', '-h', `${user.uid}:${user.gid}`, project]);
  await chmod(project, 0o755);
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  if (store) await removeStore(store);
  if (project) await rm(project, { recursive: true, force: true });
});

describe('flux.matrix() with the outputs of flux matrix', () => {
  it('writes the results directory, JUnit and HTML reports and the lock, prints nothing, leaves no listener', async () => {
    const ref = `${reg.host}/busybox:latest`;
    const r = await runAs(await testUser(), process.execPath, [join(project, 'main.mjs'), ref, store, join(project, 'out')], { cwd: project, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.records.map((x: { image: string; verdict: string }) => [x.image, x.verdict])).toEqual([[ref, 'passed']]);
    // results.json holds the very records the call returned; each image's stdout is kept beside it.
    expect(out.resultsJson).toEqual(out.records);
    expect(out.runStdout).toBe('hello-from-matrix\n');
    expect(out.junit).toContain('<testsuite');
    expect(out.junit).toContain('hello-from-matrix');
    expect(out.html).toMatch(/^<!DOCTYPE html>/i);
    expect(out.html).toContain(ref);
    expect(out.lock).toContain(`${ref} linux/`);
    expect(out.lock).toMatch(/sha256:[0-9a-f]{64}/);
    // The lock's notices came to onMessage, not to the terminal.
    expect(out.messages.some((m: string) => m.includes('does not exist yet'))).toBe(true);
    expect(out.listeners.after).toEqual(out.listeners.before);
  }, 180_000);
});
