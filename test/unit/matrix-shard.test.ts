import { describe, expect, it } from 'vitest';
import { parseShard, selectShard } from '../../src/matrix/shard.js';
import { collectImages } from '../../src/matrix/images.js';

const names = ['debian:12', 'alpine:3.20', 'busybox', 'fedora:40', 'ubuntu:24.04', 'localhost:5000/x', 'oci:/tmp/layout', 'archlinux'];

describe('--shard K/N', () => {
  it('parses K/N and refuses anything else with a hint', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, total: 3 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, total: 1 });
    for (const bad of ['0/3', '4/3', '1/0', '1', 'a/b', '-1/2', '1.5/3', '']) {
      expect(() => parseShard(bad), bad).toThrow(/not a valid shard/);
    }
  });

  it('splits into disjoint slices whose union is the whole matrix, sizes within one', () => {
    const images = collectImages(names);
    for (let n = 1; n <= 10; n++) {
      const slices = Array.from({ length: n }, (_, k) => selectShard(images, { index: k + 1, total: n }));
      const all = slices.flat().map((i) => i.key);
      expect(new Set(all).size).toBe(all.length);
      expect([...all].sort()).toEqual(images.map((i) => i.key).sort());
      const sizes = slices.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('gives the same slice whatever order and spelling the images are given in', () => {
    const a = collectImages(names);
    const b = collectImages([...names].reverse().map((n) => (n === 'busybox' ? 'docker.io/library/busybox:latest' : n)));
    for (let k = 1; k <= 3; k++) {
      expect(selectShard(a, { index: k, total: 3 }).map((i) => i.key).sort()).toEqual(selectShard(b, { index: k, total: 3 }).map((i) => i.key).sort());
    }
  });

  it('keeps the order the images were given in, in every slice', () => {
    const images = collectImages(names);
    expect(selectShard(images, { index: 1, total: 1 }).map((i) => i.ref)).toEqual(names);
    for (let k = 1; k <= 3; k++) {
      const slice = selectShard(images, { index: k, total: 3 }).map((i) => i.ref);
      expect(slice).toEqual(names.filter((n) => slice.includes(n)));
    }
  });
});
