import { afterEach, describe, expect, it, vi } from 'vitest';
import { handleInterrupts, signalExit, type Interrupts } from '../../src/matrix/interrupt.js';

function fakeMatrix() {
  const calls: string[] = [];
  return { calls, interrupt: (sig: NodeJS.Signals) => void calls.push(`interrupt:${sig}`), kill: () => void calls.push('kill') };
}

describe('Ctrl-C during a matrix', () => {
  let h: Interrupts | undefined;
  afterEach(() => {
    h?.dispose();
    vi.useRealTimers();
  });

  it('stops every run at the first signal and kills those still going after the grace period', () => {
    vi.useFakeTimers();
    const m = fakeMatrix();
    const said: string[] = [];
    h = handleInterrupts(m, { stopTimeoutMs: 10_000, say: (t) => void said.push(t) });
    process.emit('SIGINT', 'SIGINT');
    expect(m.calls).toEqual(['interrupt:SIGINT']);
    vi.advanceTimersByTime(9_999);
    expect(m.calls).toEqual(['interrupt:SIGINT']);
    vi.advanceTimersByTime(1);
    expect(m.calls).toEqual(['interrupt:SIGINT', 'kill']);
    expect(h.signal).toBe('SIGINT');
    expect(said.join('')).toContain('SIGINT received');
  });

  it('kills every run at once at the second signal, and keeps the first signal for the exit code', () => {
    vi.useFakeTimers();
    const m = fakeMatrix();
    h = handleInterrupts(m, { stopTimeoutMs: 10_000, say: () => undefined });
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(m.calls).toEqual(['interrupt:SIGTERM', 'kill']);
    vi.advanceTimersByTime(20_000);
    expect(m.calls).toEqual(['interrupt:SIGTERM', 'kill']);
    expect(h.signal).toBe('SIGTERM');
    expect(signalExit('SIGINT')).toBe(130);
    expect(signalExit('SIGTERM')).toBe(143);
  });

  it('listens no more once disposed', () => {
    const m = fakeMatrix();
    const before = process.listenerCount('SIGINT');
    h = handleInterrupts(m, { stopTimeoutMs: 1, say: () => undefined });
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    h.dispose();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});
