/** The one parser of a pull policy, for `flux pull --pull`, `flux run --pull`, `flux matrix --pull` and the library. */
import { FluxError } from '../errors.js';
import { escapeText } from '../escape.js';

export type PullPolicy = 'missing' | 'always' | 'never';

const POLICIES: PullPolicy[] = ['missing', 'always', 'never'];

/**
 * `option` names the library's option (`pull`, `policy`) the value came from; without it the
 * value came from the command line's --pull, and the sentence says so, naming the command's
 * default (`missing` for run and matrix, `always` for pull) first.
 */
export function parsePullPolicy(s: unknown, option?: string, fallback: PullPolicy = 'missing'): PullPolicy {
  if (s === 'missing' || s === 'always' || s === 'never') return s;
  const shown = escapeText(String(s));
  if (option === undefined) {
    const others = POLICIES.filter((p) => p !== fallback).map((p) => `--pull=${p}`);
    throw new FluxError('BAD_FLAG', `--pull=${shown} is not a pull policy.`, { hint: `Use --pull=${fallback} (default), ${others.join(' or ')}.`, exitCode: 125 });
  }
  throw new FluxError('BAD_OPTION', `${option}: ${shown} is not a pull policy.`, { hint: `Give ${option} as missing, always or never.`, exitCode: 125 });
}
