/**
 * Reading a small image file straight from the unpacked layers (readLayerFile), and finding a
 * helper program on PATH (findExecutable): real files in a temporary directory.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLayerFile } from '../../dist/src/sandbox/layer-files.js';
import { findExecutable } from '../../dist/src/executables.js';
import { requireTool } from '../helpers/require.js';

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

  it('lets an upper layer\'s file hide a lower directory (as overlayfs shows it), and finds none in no layer', () => {
    const base = layer('c-base', { 'etc/group': 'root:x:0:\n' });
    const odd = layer('c-odd', { etc: 'a file, not a directory' });
    expect(readLayerFile([base], 'etc/group')).toBe('root:x:0:\n');
    expect(readLayerFile([odd, base], 'etc/group')).toBeUndefined();
    expect(readLayerFile([base], 'etc/passwd')).toBeUndefined();
  });

  it('stops at a layer where the path is not a regular file (a directory hides it)', () => {
    const base = layer('d-base', { 'etc/passwd': 'root\n' });
    const top = layer('d-top', { 'etc/passwd/inner': 'x' });
    expect(readLayerFile([top, base], 'etc/passwd')).toBeUndefined();
  });
});

describe('readLayerFile resolves within the layer stack only', () => {
  it('follows an absolute `etc` symlink into the image, never into the host directory it names', () => {
    // The host directory the link names, holding a passwd the image must not get.
    const host = layer('e-host', { 'passwd': 'intruder:x:1234:1234::/host-home:/bin/sh\n' });
    const base = layer('e-base', { 'data/passwd': 'app:x:10:10::/image-home:/bin/sh\n' });
    symlinkSync(host, join(base, 'etc'));
    const top = layer('e-top', {});
    // `etc` -> HOST resolves to HOST inside the image: absent there.
    expect(readLayerFile([top, base], 'etc/passwd')).toBeUndefined();
    // The same path made by the image itself resolves to the image's file.
    mkdirSync(join(base, host.slice(1), '..'), { recursive: true });
    symlinkSync('/data', join(base, host.slice(1)));
    expect(readLayerFile([top, base], 'etc/passwd')).toBe('app:x:10:10::/image-home:/bin/sh\n');
  });

  it('follows relative links and `..` within the image root, across layers, and stops a loop', () => {
    const base = layer('f-base', { 'usr/share/base-passwd/passwd': 'shared\n', 'etc/group': 'g\n' });
    const top = layer('f-top', {});
    mkdirSync(join(top, 'etc'));
    // `..` past the root stays at the root, as in a chroot.
    symlinkSync('../../../../usr/share/base-passwd/passwd', join(top, 'etc', 'passwd'));
    expect(readLayerFile([top, base], 'etc/passwd')).toBe('shared\n');
    expect(readLayerFile([top, base], 'etc/group')).toBe('g\n');
    symlinkSync('loop-b', join(top, 'loop-a'));
    symlinkSync('loop-a', join(top, 'loop-b'));
    expect(readLayerFile([top, base], 'loop-a')).toBeUndefined();
  });

  it('honours an opaque directory recorded in the layer info file', () => {
    const base = layer('g-base', { 'etc/passwd': 'lower\n', 'etc/group': 'lower-group\n' });
    const top = layer('g-top', { 'etc/group': 'upper-group\n' });
    expect(readLayerFile([top, base], 'etc/passwd')).toBe('lower\n');
    writeFileSync(`${top}.json`, JSON.stringify({ size: 0, files: 1, xattr: 'user', opaque: ['etc'] }));
    expect(readLayerFile([top, base], 'etc/passwd')).toBeUndefined();
    expect(readLayerFile([top, base], 'etc/group')).toBe('upper-group\n');
  });

  it('honours a whiteout of the file and of a parent directory', () => {
    requireTool('mknod', () => process.getuid?.() === 0, 'whiteouts are 0/0 character devices, made as root');
    const base = layer('h-base', { 'etc/passwd': 'lower\n', 'etc/group': 'g\n' });
    const mid = layer('h-mid', {});
    mkdirSync(join(mid, 'etc'));
    execFileSync('mknod', [join(mid, 'etc', 'passwd'), 'c', '0', '0']);
    expect(readLayerFile([mid, base], 'etc/passwd')).toBeUndefined();
    expect(readLayerFile([mid, base], 'etc/group')).toBe('g\n');
    const top = layer('h-top', {});
    execFileSync('mknod', [join(top, 'etc'), 'c', '0', '0']);
    expect(readLayerFile([top, base], 'etc/group')).toBeUndefined();
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
