import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatLock, parseLock } from '../../src/matrix/lock-file.js';
import { MatrixLock } from '../../src/matrix/lock.js';
import { collectImages } from '../../src/matrix/images.js';
import type { ImageRecord } from '../../store/image-index.js';

const A = `sha256:${'a'.repeat(64)}` as const;
const B = `sha256:${'b'.repeat(64)}` as const;

function record(digest: string, platform = { os: 'linux', architecture: 'amd64' }): ImageRecord {
  return { manifestDigest: digest, platform } as unknown as ImageRecord;
}

describe('the lock file', () => {
  it('is sorted, one line per image and platform, and reads back the same', () => {
    const text = formatLock([
      { reference: 'docker.io/library/debian:12', platform: 'linux/amd64', digest: B },
      { reference: 'docker.io/library/alpine:3.20', platform: 'linux/arm64/v8', digest: A },
      { reference: 'docker.io/library/alpine:3.20', platform: 'linux/amd64', digest: B },
    ]);
    const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines).toEqual([
      `docker.io/library/alpine:3.20 linux/amd64 ${B}`,
      `docker.io/library/alpine:3.20 linux/arm64/v8 ${A}`,
      `docker.io/library/debian:12 linux/amd64 ${B}`,
    ]);
    expect(formatLock(parseLock(text, 'flux.lock'))).toBe(text);
    // Hand-written spellings are normalised; an oci: path may hold spaces.
    expect(parseLock(`# c\n\ndebian:12   linux/x86_64  ${A}\noci:/tmp/my layout linux/amd64 ${B}\n`, 'f')).toEqual([
      { reference: 'docker.io/library/debian:12', platform: 'linux/amd64', digest: A },
      { reference: 'oci:/tmp/my layout', platform: 'linux/amd64', digest: B },
    ]);
  });

  it('refuses a malformed line, naming the line at fault', () => {
    const bad: [string, RegExp][] = [
      [`debian:12 ${A}`, /line 2 .*an image, a platform and a digest/],
      ['debian:12 linux/amd64 sha256:abc', /line 2 .*not a sha256 digest/],
      [`debian:12 linux ${A}`, /line 2 .*not a platform/],
      [`Debian:12 linux/amd64 ${A}`, /line 2 .*not a valid image reference/],
      [`debian:12 linux/amd64 ${A}\ndebian:12 linux/amd64 ${B}`, /line 3 .*locked already at line 2/],
    ];
    for (const [line, why] of bad) {
      expect(() => parseLock(`# lock\n${line}\n`, 'flux.lock'), line).toThrow(why);
      expect(() => parseLock(`# lock\n${line}\n`, 'flux.lock'), line).toThrow(/^the lock file flux\.lock is malformed at line \d+/);
    }
  });
});

describe('a matrix lock', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('locks what the first run resolves, then runs exactly that digest by name@digest, and adds new images', () => {
    dir = mkdtempSync(join(tmpdir(), 'flux-lock-'));
    const path = join(dir, 'flux.lock');
    const [debian, alpine] = collectImages(['localhost:5000/debian:12', 'oci:/tmp/alpine']);
    const first = MatrixLock.open({ path, update: false, platform: 'linux/amd64' });
    expect(first.source(debian!)).toBe('localhost:5000/debian:12');
    first.resolved(debian!, record(A));
    expect(first.save()).toContain('wrote');
    expect(readFileSync(path, 'utf8')).toContain(`localhost:5000/debian:12 linux/amd64 ${A}\n`);

    const again = MatrixLock.open({ path, update: false, platform: 'linux/amd64' });
    expect(again.source(debian!)).toBe(`localhost:5000/debian@${A}`);
    expect(again.pullPolicy(debian!, 'missing')).toBe('missing');
    again.resolved(debian!, record(A));
    expect(() => again.resolved(debian!, record(B))).toThrow(/is sha256:b+ now, not sha256:a+ as locked/);
    expect(again.source(alpine!)).toBe('oci:/tmp/alpine');
    again.resolved(alpine!, record(B));
    expect(again.save()).toContain('1 entry');
    expect(readFileSync(path, 'utf8')).toContain(`oci:/tmp/alpine linux/amd64 ${B}\n`);
    // Nothing new: the file is left as it is.
    const third = MatrixLock.open({ path, update: false, platform: 'linux/amd64' });
    third.resolved(alpine!, record(B));
    expect(third.save()).toBeUndefined();
  });

  it('--update-lock resolves the tags again and keeps the entries of other images', () => {
    dir = mkdtempSync(join(tmpdir(), 'flux-lock-'));
    const path = join(dir, 'flux.lock');
    writeFileSync(path, `localhost:5000/debian:12 linux/amd64 ${A}\nlocalhost:5000/other:1 linux/amd64 ${A}\n`);
    const [debian] = collectImages(['localhost:5000/debian:12']);
    const up = MatrixLock.open({ path, update: true, platform: 'linux/amd64' });
    expect(up.source(debian!)).toBe('localhost:5000/debian:12');
    expect(up.pullPolicy(debian!, 'missing')).toBe('always');
    up.resolved(debian!, record(B));
    up.save();
    const text = readFileSync(path, 'utf8');
    expect(text).toContain(`localhost:5000/debian:12 linux/amd64 ${B}\n`);
    expect(text).toContain(`localhost:5000/other:1 linux/amd64 ${A}\n`);
  });

  it('leaves an image named by digest out of the lock: it is pinned already', () => {
    dir = mkdtempSync(join(tmpdir(), 'flux-lock-'));
    const path = join(dir, 'flux.lock');
    const [byDigest] = collectImages([`localhost:5000/debian@${A}`]);
    const lock = MatrixLock.open({ path, update: false, platform: 'linux/amd64' });
    expect(lock.source(byDigest!)).toBe(`localhost:5000/debian@${A}`);
    lock.resolved(byDigest!, record(A));
    lock.save();
    expect(parseLock(readFileSync(path, 'utf8'), path)).toEqual([]);
  });

  it('refuses a malformed lock file before anything runs', () => {
    dir = mkdtempSync(join(tmpdir(), 'flux-lock-'));
    const path = join(dir, 'flux.lock');
    writeFileSync(path, 'debian:12 linux/amd64 sha256:nope\n');
    expect(() => MatrixLock.open({ path, update: false })).toThrow(`the lock file ${path} is malformed at line 1`);
  });
});
