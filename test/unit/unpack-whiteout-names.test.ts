import { describe, expect, it } from 'vitest';
import { parseWhiteout } from '../../store/unpack/whiteout.js';

describe('parseWhiteout', () => {
  it('leaves ordinary names alone', () => {
    expect(parseWhiteout('passwd')).toEqual({ kind: 'none' });
    expect(parseWhiteout('.whatever')).toEqual({ kind: 'none' });
    expect(parseWhiteout('x.wh.y')).toEqual({ kind: 'none' });
  });
  it('reads .wh.NAME as a whiteout of NAME', () => {
    expect(parseWhiteout('.wh.gone')).toEqual({ kind: 'whiteout', target: 'gone' });
    expect(parseWhiteout('.wh..hidden')).toEqual({ kind: 'whiteout', target: '.hidden' });
  });
  it('reads the opaque marker', () => {
    expect(parseWhiteout('.wh..wh..opq')).toEqual({ kind: 'opaque' });
  });
  it('recognises aufs bookkeeping', () => {
    expect(parseWhiteout('.wh..wh.plnk')).toEqual({ kind: 'aufs-meta' });
    expect(parseWhiteout('.wh..wh.aufs')).toEqual({ kind: 'aufs-meta' });
  });
  it('refuses a bare .wh. and whiteouts of . or ..', () => {
    expect(parseWhiteout('.wh.').kind).toBe('invalid');
    expect(parseWhiteout('.wh..').kind).toBe('invalid');
    expect(parseWhiteout('.wh...').kind).toBe('invalid');
  });
});
