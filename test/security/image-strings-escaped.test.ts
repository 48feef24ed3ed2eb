/**
 * Image strings reached the terminal raw: an Entrypoint or WorkingDir holding a newline or an
 * escape sequence (`ESC [2J` clears the screen, `ESC ]0;…BEL` retitles the window, the one-byte
 * CSI 0x9b does the same on some terminals) was echoed as is in flux's error messages, and labels
 * in `flux inspect`, a layout's path in `flux images`. flux escapes control characters wherever
 * it quotes image data; the output holds the escaped forms and no raw control character.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayout } from '../../fixtures/hostile/build.mjs';
import { requireTool } from '../helpers/require.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

/** Any control character a terminal acts on; `\n` only where the test allows line breaks. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

let work: string;
let store: string;

/** Writes `patch` into the image config of the single image in `layout` (and its manifest and index). */
function patchConfig(layout: string, patch: Record<string, unknown>): void {
  const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice(7));
  const put = (buf: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
    writeFileSync(blob(digest), buf);
    return { digest, size: buf.length };
  };
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  config.config = { ...config.config, ...patch };
  manifest.config = { ...manifest.config, ...put(Buffer.from(JSON.stringify(config))) };
  index.manifests[0] = { ...index.manifests[0], ...put(Buffer.from(JSON.stringify(manifest))) };
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
}

async function image(name: string, patch: Record<string, unknown>): Promise<string> {
  const layout = join(work, name);
  await writeLayout(layout, [[{ name: 'hello', content: 'hi\n' }]]);
  patchConfig(layout, patch);
  execFileSync('chmod', ['-R', 'a+rX', work]);
  const pulled = await runFlux(['pull', '-q', `oci:${layout}`], { store });
  expect(pulled.code).toBe(0);
  return `oci:${layout}`;
}

beforeAll(async () => {
  requireTool('newuidmap');
  work = mkdtempSync('/tmp/flux-escapes-');
  store = await tempStore();
});

afterAll(async () => {
  if (work) execFileSync('rm', ['-rf', work]);
  if (store) await removeStore(store);
});

describe('image strings are escaped on the terminal', () => {
  it('an Entrypoint with escape sequences, in the not-found error', async () => {
    const ref = await image('entrypoint', { Entrypoint: ['/bin/no\u001b[2Jsuch\u001b]0;pwned\u0007\u009b31m'], Cmd: [] });
    const r = await runFlux(['run', '--network', 'none', ref], { store });
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('/bin/no\\x1b[2Jsuch\\x1b]0;pwned\\x07\\x9b31m: executable file not found');
    expect(r.stderr.trimEnd()).not.toMatch(RAW_CONTROL);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  }, 60_000);

  it('a WorkingDir with a newline and an escape sequence, in the refusal', async () => {
    const ref = await image('workdir', { WorkingDir: 'work\nflux: all good\u001b[2J', Cmd: ['/hello'] });
    const r = await runFlux(['run', '--network', 'none', ref], { store });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('the working directory "work\\nflux: all good\\x1b[2J" is not absolute.');
    expect(r.stderr.trimEnd()).not.toMatch(RAW_CONTROL);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  }, 60_000);

  it('labels in flux inspect: JSON escapes, with nothing raw a terminal acts on', async () => {
    const ref = await image('labels', { Labels: { note: 'line\nnext\u001b[2J\u009b2J\u007f\u202eevil' }, Cmd: ['/hello'] });
    const r = await runFlux(['inspect', ref], { store });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain('"note": "line\\nnext\\u001b[2J\\u009b2J\\u007f\\u202eevil"');
    expect(JSON.parse(r.stdout)[0].Config.Labels.note).toBe('line\nnext\u001b[2J\u009b2J\u007f\u202eevil');
  }, 60_000);

  it('a layout path with escape sequences, in the flux images table', async () => {
    const ref = await image('lay\u001b[2Jout\u009b', { Cmd: ['/hello'] });
    const r = await runFlux(['images'], { store });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain(`${work}/lay\\x1b[2Jout\\x9b`);
    expect(ref).toContain('\u001b');
  }, 60_000);
});
