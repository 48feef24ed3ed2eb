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

describe('the framing of record fields', () => {
  it('undoes the helper\'s escapes, so an escaped newline or tab stays inside its field', () => {
    expect(parseRecord('X2\t/a\\nWforged\\tx\\\\n\\x1b[2J')).toEqual({ kind: 'exec', errno: 2, cmd: '/a\nWforged\tx\\n\x1b[2J' });
    expect(parseRecord('Echdir\t20\t/w\\r\\nC0')).toEqual({ kind: 'error', op: 'chdir', errno: 20, path: '/w\r\nC0' });
  });

  it('shows control characters escaped, and other text as it is', async () => {
    const { printable } = await import('../../src/native/helper.js');
    expect(printable('/a\nWforged\t\x1b[2J\x7f\u009b')).toBe('/a\\nWforged\\t\\x1b[2J\\x7f\\x9b');
    expect(printable('C:\\path ünïcode')).toBe('C:\\path ünïcode');
  });
});
