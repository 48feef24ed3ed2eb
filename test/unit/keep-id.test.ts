import { describe, it, expect } from 'vitest';
import { defaultIdOf, keepIdFuseMapping, keepIdMapArgs, parseUserns } from '../../src/userns/keep-id.js';

const ranges = [{ start: 100000, count: 65536 }];

describe('--userns=keep-id', () => {
  it('maps the user to itself with the subordinate range around it', () => {
    expect(keepIdMapArgs(1001, 1001, ranges)).toEqual(['0', '100000', '1001', '1001', '1001', '1', '1002', '101001', '64535']);
    expect(keepIdMapArgs(1001, 0, ranges)).toEqual(['0', '1001', '1', '1', '100000', '65536']);
  });

  it('splits the ids below and above across several subordinate ranges', () => {
    const two = [{ start: 200000, count: 10 }, { start: 300000, count: 100 }];
    expect(keepIdMapArgs(1001, 15, two)).toEqual(['0', '200000', '10', '10', '300000', '5', '15', '1001', '1', '16', '300005', '95']);
  });

  it('refuses a kept id above the subordinate range', () => {
    expect(() => keepIdMapArgs(70000, 70000, ranges)).toThrow(/needs 70000 subordinate ids/);
  });

  it('shows the layers\' ids as they are through fuse-overlayfs', () => {
    expect(keepIdFuseMapping(1001, ranges)).toBe('1001:0:1:0:1:1001:1002:1002:64535');
    expect(keepIdFuseMapping(0, ranges)).toBe('0:0:65537');
  });

  it('translates a kept container id to the default map (for :U)', () => {
    expect([defaultIdOf(1001, 1001), defaultIdOf(0, 1001), defaultIdOf(1000, 1001), defaultIdOf(1002, 1001)]).toEqual([0, 1, 1001, 1002]);
  });

  it('parses the modes', () => {
    const own = { uid: 1001, gid: 1002 };
    expect(parseUserns('', own)).toEqual({ kind: 'default' });
    expect(parseUserns('host', own)).toEqual({ kind: 'host' });
    expect(parseUserns('keep-id', own)).toEqual({ kind: 'keep-id', keep: { uid: 1001, gid: 1002 } });
    expect(parseUserns('keep-id:uid=1000', own)).toEqual({ kind: 'keep-id', keep: { uid: 1000, gid: 1002 } });
    expect(() => parseUserns('keep-id:size=3', own)).toThrow(/is not uid=N or gid=N/);
    expect(() => parseUserns('nomap', own)).toThrow(/not a user namespace mode/);
  });
});
