import { describe, expect, it } from 'vitest';
import { parseSubIds } from '../../src/userns/idmap.js';

/** The first range of a user, as the unpacker's namespace maps it. */
const subordinateRange = (text: string, user: { name: string; id: number }) => parseSubIds(text, { name: user.name, uid: user.id }).find((r) => r.start > 0);

describe('subordinateRange: the ids the unpack worker maps', () => {
  const file = ['# comment', 'alice:100000:65536', 'bob:165536:1000', '1003:300000:65536', 'broken:x:y', ''].join('\n');
  it('finds a user by name', () => {
    expect(subordinateRange(file, { name: 'alice', id: 1001 })).toEqual({ start: 100000, count: 65536 });
  });
  it('finds a user by numeric id', () => {
    expect(subordinateRange(file, { name: 'carol', id: 1003 })).toEqual({ start: 300000, count: 65536 });
  });
  it('keeps a short range as it is (ids above it stay unmapped)', () => {
    expect(subordinateRange(file, { name: 'bob', id: 1002 })).toEqual({ start: 165536, count: 1000 });
  });
  it('gives nothing for users without a range or with a broken line', () => {
    expect(subordinateRange(file, { name: 'dave', id: 1004 })).toBeUndefined();
    expect(subordinateRange(file, { name: 'broken', id: 1005 })).toBeUndefined();
  });
});
