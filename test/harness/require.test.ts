import { beforeAll, describe, expect, it } from 'vitest';
import { requireTool, which } from '../helpers/require.js';

function withCI<T>(value: string | undefined, fn: () => T): T {
  const prev = process.env.CI;
  if (value === undefined) delete process.env.CI;
  else process.env.CI = value;
  try {
    return fn();
  } finally {
    if (prev === undefined) delete process.env.CI;
    else process.env.CI = prev;
  }
}

describe('requireTool', () => {
  let outsideTestResult: boolean | undefined;
  beforeAll(() => {
    // Outside a test (file level, hooks) and outside CI it reports the absence instead of skipping.
    outsideTestResult = withCI(undefined, () => requireTool('flux-no-such-tool'));
  });

  it('finds tools on PATH and in sbin', () => {
    expect(which('sh')).toMatch(/\/sh$/);
    expect(which('runuser')).toMatch(/runuser$/);
    expect(requireTool('sh')).toBe(true);
    expect(requireTool('a device', () => true)).toBe(true);
  });

  it('returns false for a missing tool outside a test when not in CI', () => {
    expect(outsideTestResult).toBe(false);
  });

  it('fails instead of skipping under CI', () => {
    expect(() => withCI('true', () => requireTool('flux-no-such-tool'))).toThrow(/prerequisite missing: flux-no-such-tool.*CI=true/);
    expect(() => withCI('true', () => requireTool('kvm', () => false, 'needs /dev/kvm'))).toThrow(/kvm \(needs \/dev\/kvm\)/);
  });
});
