/**
 * Errors in one style on the pull side and the run side (the rules at the top of src/errors.ts):
 * every FluxError written in src/ and store/ is read here, and its message must be a sentence
 * starting lower-case and ending with a period, its hint a sentence starting upper-case and
 * ending with a period. And FluxError escapes control characters itself, so a program that
 * prints `err.message` from the library is as safe as the CLI that prints it escaped.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FluxError } from '../../src/errors.js';
import { parsePullPolicy } from '../../src/pull/pull-policy.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');


function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The end of the string literal that starts at `i` (a quote or backtick), nested `${…}` included. */
function literalEnd(s: string, i: number): number {
  const q = s[i]!;
  let k = i + 1;
  while (k < s.length) {
    if (s[k] === '\\') k += 2;
    else if (q === '`' && s.startsWith('${', k)) {
      let depth = 1;
      k += 2;
      while (depth > 0 && k < s.length) {
        if (s[k] === '`') k = literalEnd(s, k);
        else if (s[k] === '{') depth++;
        else if (s[k] === '}') depth--;
        k++;
      }
    } else if (s[k] === q) return k;
    else k++;
  }
  return k;
}

/** Skips one argument (to the next top-level comma or closing parenthesis). */
function argEnd(s: string, i: number): number {
  let depth = 0;
  for (let k = i; k < s.length; k++) {
    const c = s[k]!;
    if (c === '"' || c === "'" || c === '`') k = literalEnd(s, k);
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) {
      if (depth === 0) return k;
      depth--;
    } else if (c === ',' && depth === 0) return k;
  }
  return s.length;
}

interface Written {
  at: string;
  message?: string;
  hint?: string;
}

/** Every `new FluxError(code, 'message', { hint: 'hint' })` (and its subclasses, and super() in them) whose texts are literals. */
export function writtenErrors(file: string, text: string): Written[] {
  const out: Written[] = [];
  const re = /new (?:FluxError|RegistryError)\(|super\((?=\s*'[A-Z_]+',)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let i = argEnd(text, m.index + m[0].length) + 1;
    while (/\s/.test(text[i] ?? '')) i++;
    const w: Written = { at: `${relative(ROOT, file)}:${text.slice(0, m.index).split('\n').length}` };
    if ('\'"`'.includes(text[i] ?? '')) w.message = text.slice(i + 1, literalEnd(text, i));
    const rest = text.slice(argEnd(text, i), argEnd(text, argEnd(text, i) + 1));
    const h = /\bhint:\s*(['"`])/.exec(rest);
    if (h) {
      // A hint may be literals joined with +: read them all.
      let start = h.index + h[0].length - 1;
      w.hint = '';
      for (;;) {
        const end = literalEnd(rest, start);
        w.hint += rest.slice(start + 1, end);
        const next = /^\s*\+\s*(['"`])/.exec(rest.slice(end + 1));
        if (!next) break;
        start = end + 1 + next[0].length - 1;
      }
    }
    out.push(w);
  }
  return out;
}

const written = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'store'))].flatMap((f) => writtenErrors(f, readFileSync(f, 'utf8')));

describe('error sentences in one style', () => {
  it('reads the errors flux writes', () => {
    expect(written.length).toBeGreaterThan(200);
    expect(writtenErrors(join(ROOT, 'x.ts'), "throw new FluxError('A_B', `the ${what} is ${x ? `y` : 'z'} here.`, {\n  hint: 'Do it ' +\n    'now.', exitCode: 125 });")).toEqual([
      { at: 'x.ts:1', message: 'the ${what} is ${x ? `y` : \'z\'} here.', hint: 'Do it now.' },
    ]);
  });

  it('has every message start lower-case and end with a period, with no "Error:" prefix', () => {
    const bad = written
      .filter((w) => w.message !== undefined)
      // A sentence may end with a substitution that brings its own period (another error's message).
      .filter((w) => /^[A-Z][a-z]/.test(w.message!) || /^error:/i.test(w.message!) || !/[.}]$/.test(w.message!))
      .map((w) => `${w.at}: ${w.message}`);
    expect(bad).toEqual([]);
  });

  it('has every hint start upper-case (a fix to do) and end with a period', () => {
    const bad = written
      .filter((w) => w.hint !== undefined)
      .filter((w) => !/^([A-Z`]|\$\{)/.test(w.hint!) || !/[.}]$/.test(w.hint!))
      .map((w) => `${w.at}: ${w.hint}`);
    expect(bad).toEqual([]);
  });

  it('escapes control characters in the message and hint of every FluxError', () => {
    const e = new FluxError('X', 'the tag "a\u001b[2Jb\nc" is odd.', { hint: 'Name \u202eit.' });
    expect(e.message).toBe('the tag "a\\x1b[2Jb\\nc" is odd.');
    expect(e.hint).toBe('Name \\u{202e}it.');
    let caught: unknown;
    try {
      parsePullPolicy('\u001b]0;owned\u0007', 'pull');
    } catch (err) {
      caught = err;
    }
    expect((caught as FluxError).message).toBe('pull: \\x1b]0;owned\\x07 is not a pull policy.');
  });
});
