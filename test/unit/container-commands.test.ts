/** Small pieces of the container commands: the stop signal, the STATUS column, --since. */
import { describe, it, expect } from 'vitest';
import { stopSignal } from '../../src/container/container-ops.js';
import { statusText } from '../../src/commands/containers.js';

describe('stopSignal', () => {
  it('reads names with and without SIG, numbers, and falls back to SIGTERM', () => {
    expect(stopSignal(undefined)).toBe('SIGTERM');
    expect(stopSignal('SIGQUIT')).toBe('SIGQUIT');
    expect(stopSignal('usr1')).toBe('SIGUSR1');
    expect(stopSignal('2')).toBe('SIGINT');
    expect(stopSignal('SIGNOPE')).toBe('SIGTERM');
    expect(stopSignal('999')).toBe('SIGTERM');
  });
});

describe('kill -s', () => {
  it('takes names with and without SIG, in any case, and numbers; refuses anything else in one sentence', async () => {
    const { killSignal } = await import('../../src/library/container.js');
    expect(killSignal('KILL')).toBe('SIGKILL');
    expect(killSignal('sighup')).toBe('SIGHUP');
    expect(killSignal('15')).toBe('SIGTERM');
    expect(killSignal(9)).toBe('SIGKILL');
    expect(() => killSignal('99')).toThrow(/^kill -s 99 is not a signal\.$/);
    expect(() => killSignal('NOPE')).toThrow(/^kill -s NOPE is not a signal\.$/);
    expect(() => killSignal('0')).toThrow(/is not a signal/);
  });
});

describe('ps STATUS', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  it('says Up for a running container and Exited (code) for one that ended', () => {
    expect(statusText({ state: 'running', exitCode: null, startedAt: '2026-01-01T00:00:55Z', finishedAt: null, created: '2026-01-01T00:00:50Z' }, now)).toBe('Up 5 seconds');
    expect(statusText({ state: 'exited', exitCode: 143, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:57Z', created: '2026-01-01T00:00:00Z' }, now)).toBe('Exited (143) 3 seconds ago');
    expect(statusText({ state: 'exited', exitCode: null, startedAt: null, finishedAt: '2026-01-01T00:00:00Z', created: '2026-01-01T00:00:00Z' }, now)).toBe('Exited (unknown) A minute ago');
  });
});

describe('logs --since', () => {
  it('takes a duration back from now or a time, and refuses anything else', async () => {
    const { sinceTime } = await import('../../src/container/since-time.js');
    const now = Date.parse('2026-01-01T01:00:00Z');
    expect(sinceTime('10m', now).toISOString()).toBe('2026-01-01T00:50:00.000Z');
    expect(sinceTime('2h', now).toISOString()).toBe('2025-12-31T23:00:00.000Z');
    // docker's forms too: Go durations and Unix seconds.
    expect(sinceTime('1h30m', now).toISOString()).toBe('2025-12-31T23:30:00.000Z');
    expect(sinceTime('1500ms', now).toISOString()).toBe('2026-01-01T00:59:58.500Z');
    expect(sinceTime('1767225600', now).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(sinceTime('1767225600.25', now).toISOString()).toBe('2026-01-01T00:00:00.250Z');
    expect(sinceTime('2026-01-01T00:30:00Z', now).toISOString()).toBe('2026-01-01T00:30:00.000Z');
    expect(() => sinceTime('yesterday', now)).toThrow(/--since yesterday is neither a time nor a duration\./);
  });

  it('is taken by the library as text too: flux.events({ since: "10m" })', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { Flux } = await import('../../src/library/flux.js');
    const runtimeDir = mkdtempSync(join(tmpdir(), 'flux-events-since-'));
    try {
      const flux = new Flux({ runtimeDir });
      expect(await flux.events({ since: '10m' })).toEqual([]);
      await expect(flux.events({ since: 'yesterday' })).rejects.toMatchObject({ code: 'USAGE', message: '--since yesterday is neither a time nor a duration.' });
    } finally {
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });
});
