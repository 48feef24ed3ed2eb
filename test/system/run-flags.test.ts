/**
 * The run flags docker and podman users type without thinking, as the unprivileged test user:
 * each one's output, exit code or files.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runFlux, tempStore, removeStore } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

let store: string;
let busybox: string;

const run = (args: string[], opts: Parameters<typeof runFlux>[1] = {}) => runFlux(['run', '--network', 'none', ...args], { store, ...opts });

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox']);
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
  const r = await runFlux(['pull', '-q', busybox], { store });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});

afterAll(async () => {
  if (store) await removeStore(store);
});

describe('--entrypoint', () => {
  it('takes the JSON-array form as the whole entrypoint argv', async () => {
    const r = await run(['--entrypoint', '["/bin/echo","x", "y z"]', busybox]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('x y z\n');
    const args = await run(['--entrypoint', '["/bin/echo","x"]', busybox, 'more']);
    expect(args.stdout).toBe('x more\n');
  });

  it('refuses a broken JSON array in one sentence', async () => {
    const r = await run(['--entrypoint', '["/bin/echo",', busybox]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/is not one of strings/);
  });
});
