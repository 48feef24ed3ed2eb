/** --pull's parser: the policies, and the fix it names for a wrong one. Pure. */
import { describe, expect, it } from 'vitest';
import { FluxError } from '../../src/errors.js';
import { parsePullPolicy } from '../../src/pull/pull-policy.js';

function refusal(f: () => unknown): FluxError {
  try {
    f();
  } catch (err) {
    if (err instanceof FluxError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('parsePullPolicy', () => {
  it('takes missing, always and never', () => {
    for (const p of ['missing', 'always', 'never'] as const) expect(parsePullPolicy(p)).toBe(p);
  });

  it("names the command's own default in the fix: missing for run, always for pull", () => {
    expect(refusal(() => parsePullPolicy('bogus')).hint).toBe('Use --pull=missing (default), --pull=always or --pull=never.');
    const pull = refusal(() => parsePullPolicy('bogus', undefined, 'always'));
    expect(pull.message).toBe('--pull=bogus is not a pull policy.');
    expect(pull.hint).toBe('Use --pull=always (default), --pull=missing or --pull=never.');
    expect(pull.exitCode).toBe(125);
  });
});
