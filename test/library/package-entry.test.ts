/**
 * The library as another project gets it: `npm pack` of this package (its `files` and `exports`
 * as published), unpacked into a throw-away project's node_modules/flux, and imported there by
 * name (`import { Flux, FluxError } from 'flux'`), never through src/. The program runs as the
 * unprivileged test user: pull from a local registry, a run with both streams captured and exit
 * code 3, a run stopped by an AbortSignal, and a FluxError naming a missing image.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
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
import { Flux, FluxError } from 'flux';
import { Writable } from 'node:stream';

const [ref, missing, storeDir] = process.argv.slice(2);
const flux = new Flux({ store: storeDir });
const out = {};
const listeners = () => ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGWINCH', 'exit'].map((s) => process.listenerCount(s));
const before = listeners();
const codeOf = async (p) => p.then(() => 'resolved', (e) => ({ isFluxError: e instanceof FluxError, code: e.code, message: e.message, hint: e.hint }));

out.pulled = await flux.pull(ref);
out.images = (await flux.images()).map((i) => i.reference);

const r = await flux.run({ image: ref, command: ['sh', '-c', 'echo out; echo err >&2; exit 3'], network: 'none', stdout: 'pipe', stderr: 'pipe' });
out.captured = { exitCode: r.exitCode, stdout: r.stdout?.toString(), stderr: r.stderr?.toString(), durationMs: typeof r.durationMs, signal: r.signal ?? null };

// Aborted once the command is seen running (its first line), not after some time.
const stop = new AbortController();
const seen = new Writable({ write(chunk, _enc, cb) { if (String(chunk).includes('started')) stop.abort(); cb(); } });
const aborted = await flux.run({ image: ref, command: ['sh', '-c', 'echo started; exec sleep 60'], network: 'none', stdout: seen, stderr: 'ignore', signal: stop.signal });
out.aborted = { exitCode: aborted.exitCode, signal: aborted.signal ?? null };

out.missingRun = await codeOf(flux.run({ image: missing, command: ['true'], network: 'none', stdout: 'ignore', stderr: 'ignore' }));
out.missingInspect = await codeOf(flux.inspect('no-such-image:never'));
const events = [];
out.matrix = await flux.matrix({ images: [ref, missing], command: ['sh', '-c', 'echo from-$HOSTNAME >/dev/null; exit 0'], network: 'none', jobs: 2, onEvent: (e) => events.push(e.image + ':' + e.phase) });
out.matrixEvents = events;
out.inspect = (await flux.inspect(ref)).map((i) => i.Reference);
out.listeners = { before, after: listeners() };
out.removed = (await flux.removeImage(ref)).untagged;
out.after = (await flux.images()).length;
process.stdout.write(JSON.stringify(out));
`;

beforeAll(async () => {
  reg = await startRegistry();
  await pushFixtures(reg, ['busybox']);
  store = await tempStore();
  const user = await testUser();
  // A project the test user owns, with flux installed as npm would install the packed tarball.
  project = await mkdtemp(join(tmpdir(), 'flux-lib-project-'));
  const pkgDir = join(project, 'node_modules', 'flux');
  await mkdir(pkgDir, { recursive: true });
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], { cwd: REPO_ROOT, encoding: 'utf8' })) as { filename: string }[];
  execFileSync('tar', ['-xzf', join(project, packed[0]!.filename), '-C', pkgDir, '--strip-components=1']);
  // Its dependencies: this checkout's (the registry holds no copy to install from).
  await symlink(realpathSync(join(REPO_ROOT, 'node_modules')), join(pkgDir, 'node_modules'));
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'uses-flux', type: 'module', dependencies: { flux: '*' } }));
  await writeFile(join(project, 'main.mjs'), PROGRAM);
  if (isRoot) execFileSync('chown', ['-R', '-h', `${user.uid}:${user.gid}`, project]);
  await chmod(project, 0o755);
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  if (store) await removeStore(store);
  if (project) await rm(project, { recursive: true, force: true });
});

const TYPED = `
import { Flux, FluxError, type ImageInfo, type RunResult } from 'flux';
const flux = new Flux({ store: '/nowhere' });
export async function use(): Promise<number> {
  const image: ImageInfo = await flux.pull('busybox', { policy: 'missing' });
  const r: RunResult = await flux.run({ image: image.reference, command: ['true'], stdout: 'pipe', signal: new AbortController().signal });
  try {
    await flux.inspect('x');
  } catch (e) {
    if (e instanceof FluxError) return e.code.length + (e.hint ?? '').length;
  }
  // @ts-expect-error: not a run option
  await flux.run({ image: 'x', nope: 1 });
  return r.exitCode;
}
`;

describe("import { Flux } from 'flux' in another project", () => {
  it('type-checks a TypeScript program against the published declarations', async () => {
    await writeFile(join(project, 'typed.ts'), TYPED);
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'] }, files: ['typed.ts'] }));
    await symlink(realpathSync(join(REPO_ROOT, 'node_modules/@types')), join(project, 'node_modules/@types')).catch(() => undefined);
    const tsc = join(REPO_ROOT, 'node_modules/.bin/tsc');
    expect(() => execFileSync(tsc, ['-p', join(project, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' })).not.toThrow();
  }, 120_000);

  it('installs with its build, types and helper, and exports only the entry', async () => {
    const pkg = JSON.parse(await readFile(join(project, 'node_modules/flux/package.json'), 'utf8')) as { exports: Record<string, unknown>; types: string };
    expect(Object.keys(pkg.exports)).toEqual(['.', './package.json']);
    const types = await readFile(join(project, 'node_modules/flux', pkg.types), 'utf8');
    expect(types).toContain('Flux');
    expect(types).toContain('FluxError');
    await expect(readFile(join(project, 'node_modules/flux/native/build/flux-helper'))).resolves.toBeInstanceOf(Buffer);
  });

  it('pulls, runs with captured streams, stops on an AbortSignal and names a missing image, as the unprivileged user', async () => {
    const ref = `${reg.host}/busybox:latest`;
    const missing = `${reg.host}/no-such-image:latest`;
    const r = await runAs(await testUser(), process.execPath, [join(project, 'main.mjs'), ref, missing, store], { cwd: project, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.pulled).toMatchObject({ reference: ref, repository: `${reg.host}/busybox`, tag: 'latest' });
    expect(out.pulled.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out.images).toContain(ref);
    expect(out.captured).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', durationMs: 'number', signal: null });
    // sleep ended by SIGINT: 128+2.
    expect(out.aborted).toEqual({ exitCode: 130, signal: 'SIGINT' });
    expect(out.missingRun).toMatchObject({ isFluxError: true });
    expect(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']).toContain(out.missingRun.code);
    expect(out.missingInspect).toMatchObject({ isFluxError: true, code: 'IMAGE_NOT_FOUND' });
    expect(out.matrix.map((m: { image: string; verdict: string; exitCode: number | null }) => [m.image, m.verdict, m.exitCode === 0])).toEqual([[ref, 'passed', true], [missing, 'failed', false]]);
    expect(out.matrix[1].error).toContain(missing);
    expect(out.matrix.map((m: { group: number }) => m.group)).toEqual([1, 2]);
    expect(out.matrixEvents).toContain(`${ref}:running`);
    expect(out.matrixEvents).toContain(`${ref}:passed`);
    expect(out.inspect).toEqual([ref]);
    // The library installed no signal handler and left no listener behind.
    expect(out.listeners.before.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(out.listeners.after).toEqual(out.listeners.before);
    expect(out.removed).toEqual([ref]);
    expect(out.after).toBe(0);
  }, 180_000);
});
