import { describe, expect, it } from 'vitest';
import { hostPlatform, normalizePlatform, parsePlatform, selectManifest } from '../../src/image/platform.js';
import { FluxError } from '../../src/errors.js';
import type { Descriptor, IndexManifest, Platform } from '../../src/image/types.js';

const d = (n: number, platform?: Platform): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 100,
  ...(platform ? { platform } : {}),
});
const index = (...manifests: Descriptor[]): IndexManifest => ({ schemaVersion: 2, manifests });

describe('platforms', () => {
  it('parses and normalises', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/arm64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/aarch64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/arm')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('Linux/ARM/v6')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(normalizePlatform({ os: 'linux', architecture: 'amd64', variant: 'v1' })).toEqual({ os: 'linux', architecture: 'amd64' });
  });

  it.each(['', 'linux', 'linux/', '/amd64', 'linux/amd64/v8/x', 'linux/am d64', 'linux/../x'])('refuses %j', (s) => {
    expect(() => parsePlatform(s)).toThrow(FluxError);
    try { parsePlatform(s); } catch (e) { expect((e as FluxError).code).toBe('BAD_PLATFORM'); }
  });

  it('knows the host', () => {
    const h = hostPlatform();
    expect(h.os).toBe('linux');
    if (process.arch === 'x64') expect(h).toEqual({ os: 'linux', architecture: 'amd64' });
  });

  it('selects the first match, with variant defaults', () => {
    const idx = index(
      d(1, { os: 'linux', architecture: 'arm', variant: 'v6' }),
      d(2, { os: 'linux', architecture: 'arm' }),
      d(3, { os: 'linux', architecture: 'arm64' }),
      d(4, { os: 'linux', architecture: 'amd64' }),
      d(5, { os: 'linux', architecture: 'amd64' }),
      d(6, { os: 'unknown', architecture: 'unknown' }),
    );
    expect(selectManifest(idx, parsePlatform('linux/amd64')).digest).toBe(d(4).digest);
    expect(selectManifest(idx, parsePlatform('linux/arm64/v8')).digest).toBe(d(3).digest);
    expect(selectManifest(idx, parsePlatform('linux/arm/v7')).digest).toBe(d(2).digest);
    expect(selectManifest(idx, parsePlatform('linux/arm/v6')).digest).toBe(d(1).digest);
  });

  it('lists what is available when nothing matches', () => {
    const idx = index(d(1, { os: 'linux', architecture: 'amd64' }), d(2, { os: 'linux', architecture: 'arm64' }), d(6, { os: 'unknown', architecture: 'unknown' }), d(7));
    let err: FluxError | undefined;
    try { selectManifest(idx, parsePlatform('linux/riscv64')); } catch (e) { err = e as FluxError; }
    expect(err?.code).toBe('NO_MATCHING_PLATFORM');
    expect(err?.message).toBe('the image has no variant for linux/riscv64; it is available for linux/amd64, linux/arm64/v8.');
    expect(err?.hint).toContain('--platform linux/amd64');
  });
});
