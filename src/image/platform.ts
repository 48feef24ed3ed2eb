/** Platforms (os/arch/variant) and picking an image out of an index. Pure apart from reading the host's arch. */
import { FluxError } from '../errors.js';
import type { Descriptor, IndexManifest, Platform } from './types.js';

const ARCH_ALIASES: Record<string, Platform['architecture']> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  x64: 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
  ia32: '386',
};

const OS_RE = /^[a-z0-9]+$/;
const ARCH_RE = /^[a-z0-9_-]+$/;
const VARIANT_RE = /^[a-z0-9]+$/;

/** Spellings that mean the same platform become one (containerd's platforms.Normalize). */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  const rawArch = p.architecture.toLowerCase();
  const architecture = ARCH_ALIASES[rawArch] ?? rawArch;
  let variant = p.variant?.toLowerCase() || undefined;
  if (rawArch === 'armhf' && variant === undefined) variant = 'v7';
  if (rawArch === 'armel' && variant === undefined) variant = 'v6';
  if (architecture === 'arm64') {
    if (variant === undefined || variant === '8') variant = 'v8';
  } else if (architecture === 'arm') {
    if (variant === undefined) variant = 'v7';
    else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
  } else if (architecture === 'amd64') {
    if (variant === 'v1') variant = undefined;
  }
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** The platform flux runs on, as an image index names it. */
export function hostPlatform(): Platform {
  const arch = process.arch as string;
  let architecture: string;
  let variant: string | undefined;
  switch (arch) {
    case 'x64': architecture = 'amd64'; break;
    case 'ia32': architecture = '386'; break;
    case 'arm64': architecture = 'arm64'; break;
    case 'arm': {
      architecture = 'arm';
      const v = (process.config.variables as Record<string, unknown>).arm_version;
      if (v !== undefined) variant = `v${String(v)}`;
      break;
    }
    case 'ppc64': architecture = 'ppc64le'; break;
    default: architecture = arch;
  }
  return normalizePlatform(variant === undefined ? { os: 'linux', architecture } : { os: 'linux', architecture, variant });
}

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** `os/arch[/variant]`, e.g. `linux/arm64/v8`. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/');
  const [os, architecture, variant, ...rest] = parts;
  const ok = os !== undefined && architecture !== undefined && rest.length === 0
    && OS_RE.test(os.toLowerCase()) && ARCH_RE.test(architecture.toLowerCase())
    && (variant === undefined || VARIANT_RE.test(variant.toLowerCase()));
  if (!ok) {
    throw new FluxError('BAD_PLATFORM', `"${s}" is not a valid platform.`, {
      hint: 'Use OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8.',
      exitCode: 125,
    });
  }
  return normalizePlatform(variant === undefined ? { os, architecture } : { os, architecture, variant });
}

export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (have === undefined || typeof have.os !== 'string' || typeof have.architecture !== 'string') return false;
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  return w.os === h.os && w.architecture === h.architecture && w.variant === h.variant;
}

/** The first entry of the index for `platform` (the image-spec's rule: first match wins). */
export function selectManifest(index: IndexManifest, platform: Platform): Descriptor {
  const found = index.manifests.find((d) => platformMatches(platform, d.platform));
  if (found) return found;
  const available = [...new Set(index.manifests
    .filter((d) => d.platform && d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown')
    .map((d) => formatPlatform(normalizePlatform(d.platform!))))];
  const want = formatPlatform(normalizePlatform(platform));
  throw new FluxError('NO_MATCHING_PLATFORM', available.length > 0
    ? `the image has no variant for ${want}; it is available for ${available.join(', ')}.`
    : `the image has no variant for ${want}, nor any other platform flux can run.`, {
    hint: available.length > 0 ? `Choose one with --platform, e.g. --platform ${available[0]}.` : 'Use another image.',
  });
}

/**
 * Refuses a single-platform image (a manifest without an index) whose config is for another
 * platform than the one asked for: stored, it would be run on the wrong architecture.
 */
export function assertConfigPlatform(name: string, config: { os: string; architecture: string; variant?: string }, want: Platform): void {
  const have: Platform = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
  if (platformMatches(want, have)) return;
  const is = formatPlatform(normalizePlatform(have));
  throw new FluxError('NO_MATCHING_PLATFORM', `the image ${name} is only for ${is}, not ${formatPlatform(normalizePlatform(want))}.`, {
    hint: `Pull it with --platform ${is}, or use an image built for the platform you need.`,
  });
}
