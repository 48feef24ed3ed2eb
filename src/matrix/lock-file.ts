/**
 * The text of a matrix lock file (`--lock FILE`): one line per image and platform, the
 * reference, the platform and the manifest digest it runs, sorted, so the file is small, stable
 * and readable, diffs well and can be committed beside the test script. `#` lines are comments.
 * The reference may hold spaces (an `oci:` path): the platform and digest are the last two words.
 * Pure.
 */
import { FluxError } from '../errors.js';
import { isDigest } from '../image/digest.js';
import { formatPlatform, parsePlatform } from '../image/platform.js';
import { imageKey } from './images.js';
import type { Digest } from '../image/types.js';

export interface LockEntry {
  /** The image's normalised name (images.ts imageKey). */
  readonly reference: string;
  /** Normalised `os/arch[/variant]`. */
  readonly platform: string;
  readonly digest: Digest;
}

const HEADER = [
  '# flux matrix lock: the manifest digest each image runs, per platform. Runs with --lock use',
  '# exactly these; --update-lock resolves the tags again and rewrites this file.',
];

export function lockId(reference: string, platform: string): string {
  return `${reference} ${platform}`;
}

function malformed(path: string, n: number, line: string, why: string): FluxError {
  return new FluxError('MATRIX_LOCK', `the lock file ${path} is malformed at line ${n} ("${line.length > 120 ? `${line.slice(0, 120)}…` : line}"): ${why}.`, {
    hint: 'Each line is IMAGE PLATFORM sha256:DIGEST; fix or delete that line, or rewrite the file with --update-lock.',
    exitCode: 125,
  });
}

export function parseLock(text: string, path: string): LockEntry[] {
  const out: LockEntry[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const words = line.split(/\s+/);
    if (words.length < 3) throw malformed(path, n, line, 'it does not have an image, a platform and a digest');
    const digest = words[words.length - 1]!;
    const platformText = words[words.length - 2]!;
    const ref = line.slice(0, line.length - digest.length).trimEnd().slice(0, -platformText.length).trimEnd();
    if (!isDigest(digest) || !digest.startsWith('sha256:')) throw malformed(path, n, line, `"${digest}" is not a sha256 digest`);
    let platform: string;
    try {
      platform = formatPlatform(parsePlatform(platformText));
    } catch {
      throw malformed(path, n, line, `"${platformText}" is not a platform (OS/ARCH[/VARIANT])`);
    }
    let reference: string;
    try {
      reference = imageKey(ref);
    } catch {
      throw malformed(path, n, line, `"${ref}" is not a valid image reference`);
    }
    if (/@sha256:/.test(reference)) throw malformed(path, n, line, 'the image is named by digest already; lock it by its tag');
    const id = lockId(reference, platform);
    const before = seen.get(id);
    if (before !== undefined) throw malformed(path, n, line, `${reference} for ${platform} is locked already at line ${before}`);
    seen.set(id, n);
    out.push({ reference, platform, digest: digest as Digest });
  });
  return out;
}

/** Sorted by reference then platform (code-point order, the same on every machine). */
export function formatLock(entries: Iterable<LockEntry>): string {
  const sorted = [...entries].sort((a, b) => {
    const x = lockId(a.reference, a.platform);
    const y = lockId(b.reference, b.platform);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return `${[...HEADER, ...sorted.map((e) => `${e.reference} ${e.platform} ${e.digest}`)].join('\n')}\n`;
}
