import { describe, expect, it } from 'vitest';
import { normalizeEntryPath } from '../../store/unpack/entry-path.js';

describe('normalizeEntryPath: entry names read as if the layer were /', () => {
  const contained: Array<[string, string]> = [
    ['etc/passwd', 'etc/passwd'],
    ['./etc/passwd', 'etc/passwd'],
    ['/etc/passwd', 'etc/passwd'],
    ['//etc//passwd', 'etc/passwd'],
    ['etc/./passwd', 'etc/passwd'],
    ['usr/bin/', 'usr/bin'],
    ['a/../b', 'b'],
    ['a/b/../../c', 'c'],
    ['./', ''],
    ['.', ''],
    ['/', ''],
    ['', ''],
    ['.wh..wh..opq', '.wh..wh..opq'],
    ['..foo/bar', '..foo/bar'],
    ['foo../bar', 'foo../bar'],
  ];
  for (const [name, want] of contained) {
    it(`${JSON.stringify(name)} → ${JSON.stringify(want)}`, () => {
      const r = normalizeEntryPath(name);
      expect(r).toEqual({ ok: true, parts: want === '' ? [] : want.split('/') });
    });
  }

  const refused: Array<[string, RegExp]> = [
    ['..', /climbs above/],
    ['../etc/passwd', /climbs above/],
    ['/../etc/passwd', /climbs above/],
    ['a/../../etc/passwd', /climbs above/],
    ['./a/./../..', /climbs above/],
    ['etc/pass\0wd', /NUL/],
  ];
  for (const [name, reason] of refused) {
    it(`refuses ${JSON.stringify(name)}`, () => {
      const r = normalizeEntryPath(name);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(reason);
    });
  }
});
