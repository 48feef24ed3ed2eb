/**
 * Reading a small image file straight from the unpacked layers (readLayerFile), and finding a
 * helper program on PATH (findExecutable): real files in a temporary directory.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLayerFile } from '../../dist/src/sandbox/layer-files.js';
import { findExecutable } from '../../dist/src/executables.js';

const dir = mkdtempSync(join(tmpdir(), 'flux-layer-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function layer(name: string, files: Record<string, string>): string {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

describe('readLayerFile', () => {
  it('reads the file from the topmost layer that has it, past layers without it', () => {
    const base = layer('a-base', { 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n' });
    const mid = layer('a-mid', { 'usr/bin/app': 'x' });
    const top = layer('a-top', { 'app/config': 'y' });
    expect(readLayerFile([top, mid, base], 'etc/passwd')).toBe('root:x:0:0::/root:/bin/sh\n');
  });

  it('takes an upper layer\'s copy over the base\'s', () => {
    const base = layer('b-base', { 'etc/passwd': 'old\n' });
    const top = layer('b-top', { 'etc/passwd': 'new\n' });
    expect(readLayerFile([top, base], 'etc/passwd')).toBe('new\n');
  });

  it('skips a layer where a path component is a file, and finds none in no layer', () => {
    const base = layer('c-base', { 'etc/group': 'root:x:0:\n' });
    const odd = layer('c-odd', { etc: 'a file, not a directory' });
    expect(readLayerFile([odd, base], 'etc/group')).toBe('root:x:0:\n');
    expect(readLayerFile([odd, base], 'etc/passwd')).toBeUndefined();
  });

  it('stops at a layer where the path is not a regular file (a directory hides it)', () => {
    const base = layer('d-base', { 'etc/passwd': 'root\n' });
    const top = layer('d-top', { 'etc/passwd/inner': 'x' });
    expect(readLayerFile([top, base], 'etc/passwd')).toBeUndefined();
  });
});

describe('findExecutable', () => {
  it('skips PATH entries that lack the program or hold it unexecutable, and finds the next', () => {
    const missing = join(dir, 'bin-missing');
    const plain = join(dir, 'bin-plain');
    const exec = join(dir, 'bin-exec');
    mkdirSync(plain, { recursive: true });
    mkdirSync(exec, { recursive: true });
    writeFileSync(join(plain, 'tool'), '#!/bin/sh\n');
    chmodSync(join(plain, 'tool'), 0o644);
    writeFileSync(join(exec, 'tool'), '#!/bin/sh\n');
    chmodSync(join(exec, 'tool'), 0o755);
    mkdirSync(join(exec, 'subdir-tool'), { recursive: true });
    const saved = process.env.PATH;
    try {
      // A PATH entry that is a file, not a directory, is passed over too.
      process.env.PATH = [missing, join(plain, 'tool'), plain, exec].join(':');
      // Root may execute what is executable by anyone only: 0644 stays unexecutable for it too.
      expect(findExecutable('tool')).toBe(join(exec, 'tool'));
      expect(findExecutable('subdir-tool')).toBeUndefined();
      expect(findExecutable('absent')).toBeUndefined();
    } finally {
      process.env.PATH = saved;
    }
  });
});
