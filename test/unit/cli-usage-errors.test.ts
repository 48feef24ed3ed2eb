/**
 * The command line's own errors (an unknown option, a missing argument) come in flux's form: one
 * sentence starting `flux:`, saying where the options are, and exit code 125.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function stderrOf(argv: string[]): Promise<{ text: string; code: number | undefined }> {
  const write = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((s: string) => {
    text += s;
    return true;
  }) as typeof process.stderr.write;
  const before = process.exitCode;
  try {
    await main(argv);
    return { text, code: process.exitCode as number | undefined };
  } finally {
    process.stderr.write = write;
    process.exitCode = before;
  }
}

describe('usage errors', () => {
  it.each([
    [['run', '--bogus', 'x'], "flux: unknown option '--bogus'. See the options with flux --help or flux COMMAND --help.\n"],
    [['images', '--format', 'json'], "flux: unknown option '--format'. See the options with flux --help or flux COMMAND --help.\n"],
    [['tag'], "flux: missing required argument 'source'. See the options with flux --help or flux COMMAND --help.\n"],
  ])('%j', async (argv, expected) => {
    const r = await stderrOf(argv);
    expect(r).toEqual({ text: expected, code: 125 });
  });
});
