/**
 * The helper reports to flux in records, one a line. An image string it quotes (the Entrypoint
 * that could not be executed, the WorkingDir it could not enter) went into a record raw, so a
 * newline in it ended the record and what followed was read as a record of its own: a forged
 * warning, or a forged "the run is over, status 0". The helper now escapes every string it
 * writes into a record, and flux shows the string with its control characters escaped.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { busyboxWith } from '../helpers/image-layer.js';
import { runFlux, tempStore, removeStore, isRoot } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

const FORGED = 'Wforged warning\nD0\nC0';
const dirs: string[] = [];
const stores: Record<'rootless' | 'root', string> = { rootless: '', root: '' };
let badEntrypoint: string;
let badWorkdir: string;

/** The busybox fixture with its image config patched, as an OCI layout the test user can read. */
async function patchedLayout(patch: (config: Record<string, unknown>) => void): Promise<string> {
  const dir = await busyboxWith([], (image) => {
    image.config = { ...(image.config ?? {}) };
    patch(image.config);
  });
  dirs.push(dir);
  return `oci:${dir}`;
}

beforeAll(async () => {
  requireTool('newuidmap');
  requireTool('real root', () => isRoot, 'the images also run as real root');
  badEntrypoint = await patchedLayout((c) => {
    c.Entrypoint = [`/no/such/command\n${FORGED}`];
    c.Cmd = [];
  });
  // A directory below a file: the helper cannot make or enter it, and says so quoting it.
  badWorkdir = await patchedLayout((c) => {
    c.WorkingDir = `/etc/passwd/sub\n${FORGED}`;
  });
  stores.rootless = await tempStore();
  stores.root = await tempStore('root');
  for (const image of [badEntrypoint, badWorkdir]) {
    expect((await runFlux(['pull', '-q', image], { store: stores.rootless })).code).toBe(0);
    expect((await runFlux(['pull', '-q', image], { store: stores.root, asUser: false })).code).toBe(0);
  }
}, 300_000);

afterAll(async () => {
  for (const s of Object.values(stores)) if (s) await removeStore(s);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const ESCAPED = 'Wforged warning\\nD0\\nC0';

describe.each(['rootless', 'root'] as const)('a newline in an image string forges no helper record (%s)', (mode) => {
  const run = (image: string, args: string[] = []) => runFlux(['run', '--network', 'none', image, ...args], { store: stores[mode], asUser: mode === 'rootless' });

  it('reports the Entrypoint that is not found, escaped, and nothing it carried', async () => {
    const r = await run(badEntrypoint);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe(`flux: /no/such/command\\n${ESCAPED}: executable file not found in $PATH. Check the command name, or the image's PATH.\n`);
    expect(r.stdout).toBe('');
  });

  it('reports the WorkingDir it cannot enter, escaped, and nothing it carried', async () => {
    const r = await run(badWorkdir, ['true']);
    expect(r.code).toBe(125);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^flux: .*/);
    expect(lines[0]).toContain(`/etc/passwd/sub\\n${ESCAPED}`);
    expect(r.stderr).not.toMatch(/^flux: warning/m);
  });
});
