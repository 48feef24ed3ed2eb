/**
 * What a matrix reports, as the unprivileged test user over the oci: fixtures: a failed run is
 * explained by the last lines of its output (stdout too), in the table output and in JSON.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userFixtureDir } from '../helpers/fixtures.js';
import { removeStore, runFlux, tempStore, userWorkDir } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

const ready = requireTool('newuidmap') && requireTool('skopeo');

/** Fails the way zlib's ./configure does: its reason only on stdout, one line on stderr between. */
const CONFIGURE = ['sh', '-c', 'echo "checking for gcc... gcc"; sleep 0.2; echo "a warning" >&2; sleep 0.2; echo "** ./configure aborting."; exit 1'];

describe.skipIf(!ready)('matrix reports', () => {
  let store: string;
  let work: string;
  let busybox: string;

  beforeAll(async () => {
    busybox = `oci:${await userFixtureDir('busybox')}`;
    store = await tempStore();
    work = await userWorkDir('flux-matrix-report-');
  }, 600_000);

  afterAll(async () => {
    if (store) await removeStore(store);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('shows the last lines of a failed run\'s output, both streams in order, under the table and in JSON', async () => {
    const table = await runFlux(['matrix', '--network', 'none', '--results', join(work, 'r1'), busybox, '--', ...CONFIGURE], { store });
    expect(table.code, table.stderr).toBe(1);
    expect(table.stdout).toContain(`--- ${busybox}: last 3 lines of output ---\nchecking for gcc... gcc\na warning\n** ./configure aborting.\n`);

    const json = await runFlux(['matrix', '--json', '--network', 'none', busybox, '--', ...CONFIGURE], { store });
    expect(json.code, json.stderr).toBe(1);
    const rows = JSON.parse(json.stdout) as { verdict: string; outputTail?: string[] }[];
    expect(rows[0]).toMatchObject({ verdict: 'failed', outputTail: ['checking for gcc... gcc', 'a warning', '** ./configure aborting.'] });
  });

  it('says an image that could not be pulled did not run, and gives its error once', async () => {
    const missing = `oci:${join(work, 'no-such-layout')}`;
    const r = await runFlux(['matrix', '--network', 'none', busybox, missing, '--', 'true'], { store });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`[${missing}] failed (not run: the pull failed)\n`);
    expect(r.stderr).not.toContain('exit 125');
    const json = await runFlux(['matrix', '--network', 'none', '--json', busybox, missing, '--', 'true'], { store });
    const rows = JSON.parse(json.stdout) as { image: string; digest: string | null; exitCode: number | null; verdict: string }[];
    expect(rows.map((e) => [e.verdict, e.digest === null, e.exitCode])).toEqual([['passed', false, 0], ['failed', true, null]]);
    const all = r.stdout + r.stderr;
    const error = /--- [^\n]+ ---\n(flux: [^\n]+)\n/.exec(r.stdout)?.[1] ?? 'none';
    expect(error).toMatch(/^flux: /);
    expect(all.split(error.slice('flux: '.length)).length - 1).toBe(1);
  });
});
