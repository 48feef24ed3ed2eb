/** Sizes and ages as people read them (docker's style), for any command's output. */

export function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 1000 && u < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function humanAge(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return 'N/A';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return s < 2 ? 'Less than a second ago' : `${s} seconds ago`;
  const steps: Array<[number, string]> = [[60, 'minute'], [3600, 'hour'], [86400, 'day'], [7 * 86400, 'week'], [30 * 86400, 'month'], [365 * 86400, 'year']];
  let pick: [number, string] = steps[0]!;
  for (const st of steps) if (s >= st[0]) pick = st;
  const n = Math.floor(s / pick[0]);
  return n === 1 ? `${pick[1] === 'hour' ? 'An' : 'A'} ${pick[1]} ago` : `${n} ${pick[1]}s ago`;
}
