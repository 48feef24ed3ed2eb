/**
 * The helper trusts nothing in its plan: a count, a length or an id out of range, a plan cut
 * short, each is refused with one error record and exit status 125, never a crash or an
 * allocation sized by a lie. These are the shapes the plan fuzzer (docs/fuzzing.md) starts from.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { parseRecord } from '../../src/native/helper.js';
import { setupError } from '../../src/userns/userns.js';
import { REPO_ROOT } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

const HELPER = join(REPO_ROOT, 'native/build/flux-helper');

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  records: string;
  stderr: string;
}

/** Runs the helper on a first part (its arguments) and, when given, a second part (its control socket). */
function helper(part1: string[], part2?: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(HELPER, ['run', '3', ...part1], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const ctl = child.stdio[3] as Socket;
    let records = '';
    let stderr = '';
    ctl.setEncoding('utf8').on('data', (d: string) => (records += d));
    ctl.on('error', () => undefined);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    if (part2) ctl.end(part2);
    else ctl.end();
    child.on('close', (code, signal) => resolve({ code, signal, records, stderr }));
  });
}

const tokens = (...t: string[]) => Buffer.from(t.map((x) => `${x}\0`).join(''));
const framed = (body: Buffer) => Buffer.concat([Buffer.from(`${body.length}\n`), body]);

/** One error record and status 125; the user's sentence names what was wrong. */
function expectRefused(o: Outcome, op: RegExp): void {
  expect(o.signal).toBeNull();
  expect(o.stderr).toBe('');
  expect(o.code).toBe(125);
  expect(o.records).toMatch(/^E[^\t\n]+\t\d+\t[^\n]*\n$/);
  const rec = parseRecord(o.records.trimEnd());
  expect(rec?.kind).toBe('error');
  if (rec?.kind !== 'error') return;
  expect(rec.op).toMatch(op);
  expect(setupError(rec).message).toMatch(/^[^\n]+\.$/);
}

const ROOT = ['bindroot', '/nonexistent/src', '/nonexistent/root'];

describe('the helper refuses a bad plan cleanly', () => {
  it.each([
    ['a count of 2^64', ['argv', '18446744073709551616', 'sh'], /^plan number$/],
    ['a count near 2^64', ['env', '18446744073709551615'], /^plan number$/],
    ['a count past the end of the plan', ['argv', '1000000', 'sh'], /^plan count$/],
    ['a negative count', ['argv', '-1', 'sh'], /^plan number$/],
    ['a count with a sign', ['argv', '+1', 'sh'], /^plan number$/],
    ['a count with trailing text', ['argv', '1x', 'sh'], /^plan number$/],
    ['an empty count', ['argv', '', 'sh'], /^plan number$/],
    ['more groups than the kernel takes', ['user', '0', '0', '70000', ...Array<string>(70000).fill('1')], /^plan$/],
    ['a uid of 2^32', ['user', '4294967296', '0', '0'], /^plan number$/],
    ['a uid of -1', ['user', '4294967295', '0', '0'], /^plan number$/],
    ['a terminal 70000 rows high', ['tty', '1', '70000', '80'], /^plan number$/],
    ['a flag that is no flag', ['tty', '2', '24', '80'], /^plan number$/],
    ['capabilities that are no hex mask', ['caps', '0xzz'], /^plan capabilities$/],
    ['capabilities past 64 bits', ['caps', '1ffffffffffffffff'], /^plan capabilities$/],
    ['an operation missing its arguments', ['hostname'], /^plan$/],
    ['an unknown operation', ['frobnicate'], /^plan operation$/],
    ['more limits than the kernel has', ['rlimits', '17', ...Array<string>(51).fill('1')], /^plan$/],
    ['a limit of no resource', ['rlimits', '1', '16', '1', '1'], /^plan number$/],
    ['a limit past 2^64', ['rlimits', '1', '7', '18446744073709551616', '1'], /^plan number$/],
  ])('in the container part: %s', async (_what, ops, op) => {
    requireTool('flux-helper', () => (accessSync(HELPER, constants.X_OK), true), 'npm run build');
    expectRefused(await helper([], framed(tokens(...ROOT, ...ops))), op);
  });

  it.each([
    ['a length past 2^64', Buffer.from('99999999999999999999999\n'), /^plan length$/],
    ['a length of 2^64 - 1', Buffer.from('18446744073709551615\nab'), /^plan length$/],
    ['a length of 1 GiB', Buffer.from('1073741824\nab'), /^plan length$/],
    ['a length that is no number', Buffer.from('12a\nab'), /^plan length$/],
    ['a negative length', Buffer.from('-5\nab'), /^plan length$/],
    ['a header without its end', Buffer.from('1'.repeat(64)), /^plan header$/],
    ['a plan shorter than its length', Buffer.from('100\nargv\0'), /^read plan$/],
    ['a plan cut inside its tokens', framed(tokens('argv', '2', 'sh')), /^plan$/],
    ['a last token without its end', framed(Buffer.from('argv\x001')), /^plan count$/],
  ])('in the framing: %s', async (_what, bytes, op) => {
    requireTool('flux-helper', () => (accessSync(HELPER, constants.X_OK), true), 'npm run build');
    expectRefused(await helper([], bytes), op);
  });

  it.each([
    ['an id map count of 2^64', ['maps', '18446744073709551616'], /^plan number$/],
    ['an id map without its tool\'s arguments', ['maps', '1', '/usr/bin/newuidmap', '1', '/usr/bin/newgidmap'], /^plan$/],
    ['a network helper without a command', ['net-helper', '0'], /^plan$/],
    ['a single map to uid 2^32', ['single-map', '4294967296', '0'], /^plan number$/],
    ['a container operation among the namespaces', ['argv', '1', 'sh'], /^plan operation before the namespaces exist$/],
  ])('in the namespace part: %s', async (_what, args, op) => {
    requireTool('flux-helper', () => (accessSync(HELPER, constants.X_OK), true), 'npm run build');
    expectRefused(await helper(args), op);
  });
});
