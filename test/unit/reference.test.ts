import { describe, expect, it } from 'vitest';
import { parseReference } from '../../src/image/reference.js';
import { FluxError } from '../../src/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['alpine', 'docker.io', 'library/alpine', 'latest', undefined, 'alpine:latest'],
    ['alpine:3.20', 'docker.io', 'library/alpine', '3.20', undefined, 'alpine:3.20'],
    ['library/alpine', 'docker.io', 'library/alpine', 'latest', undefined, 'alpine:latest'],
    ['docker.io/library/alpine:edge', 'docker.io', 'library/alpine', 'edge', undefined, 'alpine:edge'],
    ['index.docker.io/library/alpine', 'docker.io', 'library/alpine', 'latest', undefined, 'alpine:latest'],
    ['docker://alpine', 'docker.io', 'library/alpine', 'latest', undefined, 'alpine:latest'],
    ['user/app:v1', 'docker.io', 'user/app', 'v1', undefined, 'user/app:v1'],
    ['localhost/app', 'localhost', 'app', 'latest', undefined, 'localhost/app:latest'],
    ['localhost:5000/a/b/c:1', 'localhost:5000', 'a/b/c', '1', undefined, 'localhost:5000/a/b/c:1'],
    ['127.0.0.1:5000/busybox', '127.0.0.1:5000', 'busybox', 'latest', undefined, '127.0.0.1:5000/busybox:latest'],
    ['[::1]:5000/busybox:x', '[::1]:5000', 'busybox', 'x', undefined, '[::1]:5000/busybox:x'],
    ['quay.io/org/app_x-y.z__w:1.0-rc_1', 'quay.io', 'org/app_x-y.z__w', '1.0-rc_1', undefined, 'quay.io/org/app_x-y.z__w:1.0-rc_1'],
    ['Registry/app', 'Registry', 'app', 'latest', undefined, 'Registry/app:latest'],
  ])('%s', (input, registry, repository, tag, digest, familiar) => {
    const r = parseReference(input);
    expect(r.registry).toBe(registry);
    expect(r.repository).toBe(repository);
    expect(r.tag).toBe(tag);
    expect(r.digest).toBe(digest);
    expect(r.familiar).toBe(familiar);
    expect(r.toString()).toBe(`${registry}/${repository}:${tag}`);
  });

  it('keeps a digest and no default tag', () => {
    const r = parseReference(`alpine@${D}`);
    expect(r.tag).toBeUndefined();
    expect(r.digest).toBe(D);
    expect(r.ref).toBe(D);
    expect(r.toString()).toBe(`docker.io/library/alpine@${D}`);
    expect(r.familiar).toBe(`alpine@${D}`);
  });

  it('keeps tag and digest together, pulling the digest', () => {
    const r = parseReference(`host:5000/app:1.0@${D}`);
    expect(r.tag).toBe('1.0');
    expect(r.digest).toBe(D);
    expect(r.ref).toBe(D);
    expect(r.toString()).toBe(`host:5000/app:1.0@${D}`);
  });

  it.each([
    [''],
    ['Alpine'],
    ['docker.io/Library/alpine'],
    ['alpine:'],
    ['alpine:-x'],
    [`alpine:${'x'.repeat(129)}`],
    ['alpine@sha256:abc'],
    [`alpine@sha256:${'A'.repeat(64)}`],
    [`alpine@sha512:${'a'.repeat(128)}`],
    ['alpine@sha256:../../etc/passwd'],
    ['a//b'],
    ['a/../b'],
    ['a..b'],
    ['-alpine'],
    ['alpine_'],
    ['host:port/x'],
    ['a b'],
    [`${'a'.repeat(300)}`],
    ['a'.repeat(64).replace(/a/g, 'f')],
  ])('refuses %j with one sentence', (input) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FluxError);
    const fe = err as FluxError;
    expect(fe.code).toBe('BAD_REFERENCE');
    expect(fe.message).toMatch(/^".*" is not a valid image reference: .*\.$/s);
    expect(fe.hint).toBeTruthy();
  });
});
