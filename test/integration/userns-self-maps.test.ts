/**
 * The helper maps the ids of a user namespace it makes for a command (the unpacker, rm -rf of a
 * run dir) itself, with newuidmap and newgidmap, as it does for a run: the command starts even
 * while flux's event loop is blocked (a cold pull loads its HTTP client then). Before, flux ran
 * the two tools and told the helper when they were done, which waited for its event loop.
 */
import { join } from 'node:path';
import { readFile, rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { appDir, runAs, TEST_USER, userWorkDir } from '../helpers/user.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Starts `id -u > out` in the namespace, then blocks the event loop until out is written (or 20 s pass). */
const SCRIPT = `
import { existsSync, readFileSync } from 'node:fs';
const [, modulePath, out] = process.argv;
const { spawnInUserNamespace } = await import(modulePath);
const child = spawnInUserNamespace(['sh', '-c', 'id -u > "$1.tmp" && mv "$1.tmp" "$1"', 'sh', out], { stdio: ['ignore', 'ignore', 'inherit'], quiet: true });
const closed = new Promise((resolve) => child.on('close', (code) => resolve(code)));
child.on('error', (err) => console.log('error ' + err.message));
const nap = new Int32Array(new SharedArrayBuffer(4));
const until = Date.now() + 20_000;
while (!existsSync(out) && Date.now() < until) Atomics.wait(nap, 0, 0, 10);
console.log(existsSync(out) ? 'ran while blocked as ' + readFileSync(out, 'utf8').trim() : 'did not run while blocked');
console.log('exit ' + (await closed));
`;

describe('a command in the user namespace', () => {
  it('starts while the process that spawned it has its event loop blocked', async () => {
    const dir = await userWorkDir('flux-userns-maps-');
    dirs.push(dir);
    const out = join(dir, 'uid');
    const modulePath = join(await appDir(), 'dist/src/userns/userns.js');
    const r = await runAs(TEST_USER, process.execPath, ['--input-type=module', '-e', SCRIPT, modulePath, out], { timeoutMs: 40_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['ran while blocked as 0', 'exit 0', '']);
    expect((await readFile(out, 'utf8')).trim()).toBe('0');
  }, 60_000);
});
