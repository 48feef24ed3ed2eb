/**
 * The short form `flux [run options] IMAGE [--] CMD` (as the README's examples write it): run's
 * options before the image, and, typed at a terminal, the terminal for the command as `-i -t`
 * gives it, so `flux alpine -- sh` is a shell; piped, it runs as `flux run` does.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { userFixtureDir } from '../helpers/fixtures.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

let store: string;
let busybox: string;

beforeAll(async () => {
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
  expect((await runFlux(['pull', '-q', busybox], { store })).code).toBe(0);
}, 300_000);

afterAll(async () => {
  if (store) await removeStore(store);
});

describe('flux IMAGE -- CMD', () => {
  it('takes run\'s options before the image', async () => {
    const r = await runFlux(['--network', 'none', '-e', 'GREETING=short-ok', busybox, '--', 'sh', '-c', 'echo $GREETING; ip -o link | grep -v " lo:" | wc -l'], { store });
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'short-ok\n0\n', '']);
    const version = await runFlux(['--version'], { store });
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('gives the command the terminal it was typed at, and its exit code', async () => {
    const r = await runFlux([busybox, '--', 'sh', '-c', '[ -t 0 ] && [ -t 1 ] && echo on-a-terminal TERM=$TERM; exit 9'], { store, tty: true });
    // A terminal of the container's own, as -t makes it (with TERM).
    expect(r.stdout).toContain('on-a-terminal TERM=xterm');
    expect(r.code).toBe(9);
  });

  it('runs as flux run does when piped, or when the line chose -i, -t or -d itself', async () => {
    const piped = await runFlux([busybox, '--', 'sh', '-c', '[ -t 0 ] || [ -t 1 ] || echo no-terminal'], { store, input: 'ignored\n' });
    expect([piped.code, piped.stdout]).toEqual([0, 'no-terminal\n']);
    // At a terminal, -i alone: flux's own input and output are passed on, no terminal is made (no TERM).
    const chosen = await runFlux(['-i', busybox, '--', 'sh', '-c', 'echo "TERM=[$TERM]"'], { store, tty: true });
    expect(chosen.stdout).toContain('TERM=[]');
    expect(chosen.code).toBe(0);
  });
});
