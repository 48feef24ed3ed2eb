/** What a typed image name is recorded and looked up under: parseSourceSpec's canonical name. Pure. */
import { describe, expect, it } from 'vitest';
import { parseSourceSpec } from '../../src/sources/spec.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseSourceSpec of a registry reference', () => {
  it('names a tagged image by its full name and tag', () => {
    expect(parseSourceSpec('alpine:3.20')).toMatchObject({ kind: 'registry', canonical: 'docker.io/library/alpine:3.20', repository: 'docker.io/library/alpine', tag: '3.20' });
  });

  it('names an image by digest without a tag', () => {
    const spec = parseSourceSpec(`127.0.0.1:5000/busybox@${D}`);
    expect(spec).toMatchObject({ canonical: `127.0.0.1:5000/busybox@${D}`, repository: '127.0.0.1:5000/busybox' });
    expect(spec.tag).toBeUndefined();
  });

  it('drops the tag of NAME:TAG@DIGEST, as podman does: the digest is what is pulled and looked up', () => {
    const spec = parseSourceSpec(`127.0.0.1:5000/busybox:foo@${D}`);
    expect(spec).toMatchObject({ canonical: `127.0.0.1:5000/busybox@${D}`, repository: '127.0.0.1:5000/busybox' });
    expect(spec.tag).toBeUndefined();
    // The same name as the digest alone: every command finds the one record.
    expect(spec.canonical).toBe(parseSourceSpec(`127.0.0.1:5000/busybox@${D}`).canonical);
    if (spec.kind !== 'registry') throw new Error('not a registry reference');
    expect(spec.ref.ref).toBe(D);
  });
});
