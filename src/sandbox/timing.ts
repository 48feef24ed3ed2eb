/** FLUX_TIMING=1: milliseconds since process start at each phase of a command, on stderr. */
const on = process.env.FLUX_TIMING === '1';

export function lap(label: string): void {
  if (on) process.stderr.write(`flux: timing: ${label} ${performance.now().toFixed(1)} ms\n`);
}

/** The helper's environment: with FLUX_TIMING, the start it times its own steps against. */
export function timingEnv(): Record<string, string> {
  return on ? { FLUX_TIMING_ORIGIN: String(performance.timeOrigin) } : {};
}
