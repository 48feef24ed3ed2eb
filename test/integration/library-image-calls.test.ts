/**
 * flux.tag, save, load, push and info called from code (the CLI's tests run them as the
 * unprivileged user): what each resolves with, and a stream as well as a file for save and load.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flux, FluxError } from '../../src/index.js';
import { fixtureInfo, pushFixtures, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';

requireTool('docker-registry');
requireTool('skopeo');

let reg: Registry;
let busybox: FixtureSummary;
let work: string;

beforeAll(async () => {
  busybox = await fixtureInfo('busybox');
  reg = await startRegistry();
  await pushFixtures(reg, ['busybox']);
  work = await mkdtemp(join(tmpdir(), 'flux-image-calls-'));
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the image calls of the library', () => {
  it('tags, saves to a stream, loads from a stream, pushes and reports the machine', async () => {
    const flux = new Flux({ store: join(work, 'a') });
    const ref = `${reg.host}/busybox:latest`;
    await flux.pull(ref);
    const tagged = await flux.tag(ref, 'example.com/lib/box:3');
    expect(tagged).toMatchObject({ reference: 'example.com/lib/box:3', repository: 'example.com/lib/box', tag: '3', digest: busybox.digest, id: busybox.config });

    const file = join(work, 'saved.tar');
    const saved = await flux.save(['example.com/lib/box:3'], createWriteStream(file), { format: 'oci-archive' });
    expect(saved.images).toBe(1);
    expect(saved.bytes).toBeGreaterThan(busybox.layers![0]!.size);

    const other = new Flux({ store: join(work, 'b') });
    const loaded = await other.load(createReadStream(file));
    expect(loaded.map((i) => [i.reference, i.digest])).toEqual([['example.com/lib/box:3', busybox.digest]]);

    const events: string[] = [];
    const pushed = await other.push('example.com/lib/box:3', `${reg.host}/lib/box:3`, { onBlob: (d, outcome) => events.push(`${d}:${outcome}`) });
    expect(pushed).toMatchObject({ digest: busybox.digest, reference: `${reg.host}/lib/box:3`, mounted: 0 });
    expect(pushed.sent + pushed.present).toBe(busybox.layers!.length + 1);
    expect(events).toHaveLength(busybox.layers!.length + 1);

    const info = await other.info();
    expect(info.store.path).toBe(join(work, 'b'));
    expect(info.store.sizeBytes).toBeGreaterThan(0);
    expect(info.node).toBe(process.version);
    expect(Array.isArray(info.missing)).toBe(true);

    await expect(flux.tag('no-such-image', 'x:1')).rejects.toBeInstanceOf(FluxError);
    await expect(flux.save('no-such-image', join(work, 'x.tar'))).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
  });
});
