/** FLUX_TIMING=1: milliseconds since process start at each phase of a command, on stderr. */
const on = process.env.FLUX_TIMING === '1';

/**
 * A process flux started (the unpack worker) counts from flux's own start, which FLUX_TIMING_ORIGIN
 * carries. Read only when timing: the first touch of the global `performance` loads node:perf_hooks,
 * about a millisecond of every run's start.
 */
const origin = on ? Number(process.env.FLUX_TIMING_ORIGIN) || performance.timeOrigin : 0;

export function lap(label: string): void {
  if (on) process.stderr.write(`flux: timing: ${label} ${(performance.timeOrigin - origin + performance.now()).toFixed(1)} ms\n`);
}

export const timingOn = on;

/** The helper's environment: with FLUX_TIMING, the start it times its own steps against. */
export function timingEnv(): Record<string, string> {
  return on ? { FLUX_TIMING_ORIGIN: String(performance.timeOrigin) } : {};
}
