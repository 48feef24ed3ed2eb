/** A layer-info write that fails after its temp file was written leaves nothing beside the layer. */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeLayerInfo } from '../../src/layers/layer-info.js';

const dir = mkdtempSync(join(tmpdir(), 'flux-layer-info-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeLayerInfo', () => {
  it('removes its temp file when the rename fails', async () => {
    const layer = join(dir, 'a'.repeat(64));
    // A non-empty directory where the info goes: the write succeeds, the rename cannot.
    mkdirSync(`${layer}.json`);
    writeFileSync(join(`${layer}.json`, 'x'), '');
    await expect(writeLayerInfo(layer, { size: 1, files: 1, xattr: 'user' })).rejects.toThrow();
    expect(readdirSync(dir)).toEqual([`${'a'.repeat(64)}.json`]);
  });
});
