/**
 * `flux IMAGE …` runs an image, so a docker or podman command flux lacks, typed out of habit
 * (`flux restart web`), would have pulled an image named after it from Docker Hub. Such a
 * command is refused in one sentence, before anything is read or fetched.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

let store: string;

beforeAll(async () => {
  store = await tempStore();
});

afterAll(async () => {
  if (store) await removeStore(store);
});

describe('a docker or podman command flux does not have', () => {
  it.each(['restart', 'start', 'rename', 'attach', 'volume'])('%s is refused, not run as an image', async (cmd) => {
    const r = await runFlux([cmd, 'web'], { store });
    expect([r.code, r.stdout]).toEqual([125, '']);
    expect(r.stderr).toBe(`flux: there is no ${cmd} command in flux, and an image named ${cmd} would be pulled from Docker Hub instead. See flux --help for the commands; to run an image named ${cmd}, write flux run ${cmd}.\n`);
  });
});
