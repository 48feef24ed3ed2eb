import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { captureOutput, EMPTY_STDOUT_DIGEST } from '../../src/matrix/capture.js';
import { collectImages } from '../../src/matrix/images.js';
import type { Entry } from '../../src/matrix/types.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function captured(chunks: string[] | undefined): Promise<Entry> {
  const [image] = collectImages(['busybox']);
  const e: Entry = { image: image!, phase: 'passed', exitCode: 0, phaseSince: 0, durationMs: 1 };
  const sink = captureOutput(e, { stdout: () => undefined, stderr: () => undefined, close: async () => undefined });
  for (const c of chunks ?? []) sink.stdout(Buffer.from(c));
  await sink.close(0);
  return e;
}

describe('the stdout digest a matrix keeps of every run', () => {
  it('is that of no bytes for a run that printed nothing, without hashing', async () => {
    expect(EMPTY_STDOUT_DIGEST).toBe(sha256(''));
    expect((await captured(undefined)).stdoutDigest).toBe(sha256(''));
    // An empty chunk is the same outcome as none.
    expect((await captured([''])).stdoutDigest).toBe(sha256(''));
  });

  it('is that of everything the run printed, across chunks', async () => {
    expect((await captured(['v1', '.2\n', 'done\n'])).stdoutDigest).toBe(sha256('v1.2\ndone\n'));
  });
});
