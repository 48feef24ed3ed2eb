/** A run's owner is its pid, start time, pid namespace and boot: a reused pid or another namespace is never mistaken for it. */
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ownerAlive, ownerToken, parseOwner, startTime } from '../../src/process-owner.js';

const me = () => {
  const [pid, start, pidns, boot] = ownerToken().split('-');
  return { pid: Number(pid), start: start!, pidns: pidns!, boot: boot! };
};

function unusedPid(): number {
  for (let p = 4_000_000; p > 1000; p--) {
    try {
      readlinkSync(`/proc/${p}/exe`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return p;
    }
  }
  throw new Error('no unused pid');
}

describe('process owner', () => {
  it('names this process by pid, start time, pid namespace and boot', () => {
    const o = me();
    expect(ownerToken()).toMatch(/^\d+-\d+-\d+-[0-9a-f]{16}$/);
    expect(o.pid).toBe(process.pid);
    expect(o.start).toBe(startTime('self'));
    expect(`pid:[${o.pidns}]`).toBe(readlinkSync('/proc/self/ns/pid'));
    expect(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').replaceAll('-', '').startsWith(o.boot)).toBe(true);
    expect(ownerAlive(o)).toBe(true);
  });

  it('parses new and older names, and refuses others', () => {
    expect(parseOwner(`${ownerToken()}-0123456789ab`.split('-'))).toEqual({ owner: me(), used: 4 });
    expect(parseOwner('1234-0123456789ab'.split('-'))).toEqual({ owner: { pid: 1234 }, used: 1 });
    expect(parseOwner('x-1'.split('-'))).toBeUndefined();
    expect(parseOwner('0-1'.split('-'))).toBeUndefined();
  });

  it('a live pid with another start time is a reused pid: dead; with its own start time: alive', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      const start = startTime(String(child.pid));
      expect(start).toMatch(/^\d+$/);
      const o = { ...me(), pid: child.pid! };
      expect(ownerAlive({ ...o, start: start! })).toBe(true);
      expect(ownerAlive({ ...o, start: String(Number(start) + 1) })).toBe(false);
      // The bare pid check of the older names cannot tell the difference.
      expect(ownerAlive({ pid: child.pid! })).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a process gone is dead; one of another pid namespace is kept; one of an earlier boot is dead', () => {
    const pid = unusedPid();
    expect(ownerAlive({ ...me(), pid, start: '12345' })).toBe(false);
    expect(ownerAlive({ ...me(), pid, start: '12345', pidns: '1' })).toBe(true);
    expect(ownerAlive({ ...me(), boot: '0123456789abcdef' })).toBe(false);
    expect(ownerAlive({ pid })).toBe(false);
  });

  it('reads field 22 of a process whose name holds spaces and parentheses', async () => {
    const child = spawn(process.execPath, ['-e', 'process.title = "a) (b c"; setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      expect(startTime(String(child.pid))).toBe(fields[19]);
      expect(Number(startTime(String(child.pid)))).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
