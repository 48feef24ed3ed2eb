import { describe, it, expect } from 'vitest';
import { parseRecord } from '../../src/native/helper.js';

describe('the sandbox helper records', () => {
  it('tells the command ending (C) from the run being cleaned up (D)', () => {
    expect(parseRecord('C3')).toEqual({ kind: 'ended', status: 3 });
    expect(parseRecord('D3')).toEqual({ kind: 'done', status: 3 });
    expect(parseRecord('C143')).toEqual({ kind: 'ended', status: 143 });
  });

  it('drops a status that is no exit status', () => {
    for (const line of ['C', 'C-1', 'C256', 'Cx', 'D1.5']) expect(parseRecord(line)).toBeUndefined();
  });

  it('splits the tab-separated fields of errors and exec failures', () => {
    expect(parseRecord('Emount\t13\t/x')).toEqual({ kind: 'error', op: 'mount', errno: 13, path: '/x' });
    expect(parseRecord('X2\tnope')).toEqual({ kind: 'exec', errno: 2, cmd: 'nope' });
  });
});
