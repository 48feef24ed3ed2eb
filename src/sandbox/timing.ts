/** FLUX_TIMING=1: milliseconds since process start at each phase of a command, on stderr. */
const on = process.env.FLUX_TIMING === '1';

export function lap(label: string): void {
  if (on) process.stderr.write(`flux: timing: ${label} ${performance.now().toFixed(1)} ms\n`);
}
