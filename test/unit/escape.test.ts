/** escapeText / escapeJson: what image data may put in front of a terminal, and what it becomes. */
import { describe, expect, it } from 'vitest';
import { escapeJson, escapeText } from '../../dist/src/escape.js';

describe('escapeText', () => {
  it('leaves printable text alone, non-ASCII letters included', () => {
    expect(escapeText('/usr/bin/app --flag=ü "quoted" \\path')).toBe('/usr/bin/app --flag=ü "quoted" \\path');
  });

  it('names newline, carriage return and tab', () => {
    expect(escapeText('a\nb\rc\td')).toBe('a\\nb\\rc\\td');
  });

  it('writes other C0 controls, DEL and C1 controls as \\xHH', () => {
    expect(escapeText('\u001b[2J\u001b]0;title\u0007')).toBe('\\x1b[2J\\x1b]0;title\\x07');
    expect(escapeText('\u0000\u007f\u0080\u009b2J')).toBe('\\x00\\x7f\\x80\\x9b2J');
  });

  it('writes line separators and bidirectional controls as \\u{HHHH}', () => {
    expect(escapeText('a\u2028b\u202eevil\u2066')).toBe('a\\u{2028}b\\u{202e}evil\\u{2066}');
  });

  it('leaves no control character in any output', () => {
    let all = '';
    for (let c = 0; c < 0x2100; c++) all += String.fromCharCode(c);
    expect(escapeText(all)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
  });
});

describe('escapeJson', () => {
  it('escapes what JSON.stringify leaves raw, and parses back to the same value', () => {
    const value = { label: 'x\u009b2J\u007f\u2028\u202e\n\u001b', ok: 'ü' };
    const text = escapeJson(JSON.stringify(value, null, 2));
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
    expect(text).toContain('\\u009b');
    expect(JSON.parse(text)).toEqual(value);
  });
});
