/** The one parser of a pull policy, for `flux pull --pull`, `flux run --pull`, `flux matrix --pull` and the library. */
import { FluxError } from '../errors.js';
import { escapeText } from '../escape.js';

export type PullPolicy = 'missing' | 'always' | 'never';

/**
 * `option` names the library's option (`pull`, `policy`) the value came from; without it the
 * value came from the command line's --pull, and the sentence says so.
 */
export function parsePullPolicy(s: unknown, option?: string): PullPolicy {
  if (s === 'missing' || s === 'always' || s === 'never') return s;
  const shown = escapeText(String(s));
  if (option === undefined) {
    throw new FluxError('BAD_FLAG', `--pull=${shown} is not a pull policy.`, { hint: 'Use --pull=missing (default), --pull=always or --pull=never.', exitCode: 125 });
  }
  throw new FluxError('BAD_OPTION', `${option}: ${shown} is not a pull policy.`, { hint: `Give ${option} as missing, always or never.`, exitCode: 125 });
}
