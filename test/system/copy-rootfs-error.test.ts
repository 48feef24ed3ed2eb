/** A failing layer copy ends in one flux error carrying the copy's own reason. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRunDir, prepareCopy } from '../../dist/src/sandbox/rootfs.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('copy rootfs errors', () => {
  it('puts the copy worker\'s reason into the one FluxError', async () => {
    const d = await mkdtemp(join(tmpdir(), 'flux-copy-'));
    dirs.push(d);
    const rd = makeRunDir(join(d, 'runs'), []);
    const err = await prepareCopy(rd, [join(d, 'no-such-layer')]).then(() => undefined, (e: unknown) => e as Error & { code: string });
    expect(err?.code).toBe('COPY_ROOTFS');
    expect(err?.message).toMatch(/^copying the image's layers into .*\/copy failed: ENOENT: no such file or directory, scandir '.*no-such-layer'\.$/);
    expect(err?.message).not.toContain('flux:');
  });
});
