import { describe, expect, it } from 'vitest';
import { collectImages, parseImagesFile, splitList } from '../../src/matrix/images.js';

describe('matrix image list', () => {
  it('splits comma lists and drops empty items', () => {
    expect(splitList('a, b,,c ')).toEqual(['a', 'b', 'c']);
  });

  it('reads an images file with comments and blank lines', () => {
    const text = '# distros\nalpine:3.20\n\n debian:12  # stable\nbusybox,fedora:40\r\n';
    expect(parseImagesFile(text)).toEqual(['alpine:3.20', 'debian:12', 'busybox', 'fedora:40']);
  });

  it('keeps each image once, first spelling wins, order kept', () => {
    const imgs = collectImages(['busybox', 'alpine', 'docker.io/library/busybox:latest', 'oci:/x', 'oci:/x']);
    expect(imgs.map((i) => i.ref)).toEqual(['busybox', 'alpine', 'oci:/x']);
    expect(imgs[0]!.key).toBe('docker.io/library/busybox:latest');
  });

  it('refuses an empty matrix and a bad reference before anything runs', () => {
    expect(() => collectImages([])).toThrow(/no images/);
    expect(() => collectImages(['Bad Name'])).toThrow(/not a valid image reference/);
  });
});
