/** The one parser of a pull policy, for `flux pull --pull`, `flux run --pull`, `flux matrix --pull` and the library. */
import { FluxError } from '../errors.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export function parsePullPolicy(s: string): PullPolicy {
  if (s === 'missing' || s === 'always' || s === 'never') return s;
  throw new FluxError('BAD_FLAG', `--pull=${s} is not a pull policy.`, { hint: 'Use --pull=missing (default), --pull=always or --pull=never.', exitCode: 125 });
}
