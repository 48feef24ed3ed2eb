/** flux stop sends the image's StopSignal, however the image writes it. */
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

describe('ps STATUS', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  it('says Up for a running container and Exited (code) for one that ended', () => {
    expect(statusText({ state: 'running', exitCode: null, startedAt: '2026-01-01T00:00:55Z', finishedAt: null, created: '2026-01-01T00:00:50Z' }, now)).toBe('Up 5 seconds');
    expect(statusText({ state: 'exited', exitCode: 143, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:57Z', created: '2026-01-01T00:00:00Z' }, now)).toBe('Exited (143) 3 seconds ago');
    expect(statusText({ state: 'exited', exitCode: null, startedAt: null, finishedAt: '2026-01-01T00:00:00Z', created: '2026-01-01T00:00:00Z' }, now)).toBe('Exited (unknown) A minute ago');
  });
});
