/**
 * A `--since` value (`flux logs`, `flux events`, and the library's `since`) as docker reads it:
 * a duration back from now in Go's form (`10m`, `1h30m`, `1500ms`, `2.5h`), a Unix time in
 * seconds (`1700000000`, `1700000000.5`), or an RFC 3339 time or date (`2026-01-01T10:00:00Z`).
 */
import { FluxError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;

export function sinceTime(text: string, now = Date.now()): Date {
  if (DURATION.test(text)) {
    let ms = 0;
    for (const m of text.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    return new Date(now - ms);
  }
  if (/^\d+(\.\d+)?$/.test(text)) return new Date(Number(text) * 1000);
  const t = Date.parse(text);
  if (/^\d{4}-\d\d-\d\d/.test(text) && Number.isFinite(t)) return new Date(t);
  throw new FluxError('USAGE', `--since ${text} is neither a time nor a duration.`, { hint: 'Write e.g. --since 10m, --since 1h30m, --since 1700000000 or --since 2026-01-01T10:00:00Z.', exitCode: 125 });
}

/** The library's `since`: a Date, or text as `--since` takes it. */
export function sinceOption(since: Date | string | undefined): Date | undefined {
  return since === undefined ? undefined : typeof since === 'string' ? sinceTime(since) : since;
}
