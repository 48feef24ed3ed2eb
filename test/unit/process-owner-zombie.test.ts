/** A process that has ended but was not reaped (a zombie) owns nothing: its run dirs are stale. */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startTime } from '../../src/process-owner.js';

describe('startTime', () => {
  it('is undefined for a zombie, as for a process that is gone', async () => {
    // sh starts a short sleep in the background and becomes `sleep`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
      const state = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
      for (let i = 0; i < 300 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
      expect(state()).toBe('Z');
      expect(startTime(pid)).toBeUndefined();
      expect(startTime(String(parent.pid))).toMatch(/^\d+$/);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
