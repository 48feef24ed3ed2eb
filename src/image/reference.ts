/**
 * Image references with docker's normalisation (distribution/reference): `alpine` is
 * `docker.io/library/alpine:latest`. Pure, no I/O.
 */
import { FluxError } from '../errors.js';
import { isDigest } from './digest.js';
import type { Digest } from './types.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';

export interface Reference {
  /** Registry host with optional port, e.g. `docker.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path, e.g. `library/alpine`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
  /** `registry/repository` without tag or digest. */
  readonly name: string;
  /** Short name as docker shows it, e.g. `alpine:latest`, `user/app@sha256:…`. */
  readonly familiar: string;
  /** The tag, else the digest, else `latest`: what to ask the registry for. */
  readonly ref: string;
  /** Full form, e.g. `docker.io/library/alpine:latest`. */
  toString(): string;
}

// The grammar of distribution/reference (reference/regexp.go).
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const NAME_MAX = 255;

function bad(input: string, why: string): FluxError {
  return new FluxError('BAD_REFERENCE', `"${input}" is not a valid image reference: ${why}.`, {
    hint: 'Use NAME[:TAG][@sha256:DIGEST], e.g. alpine:3.20 or registry.example.com:5000/team/app:1.0.',
    exitCode: 125,
  });
}

class ParsedReference implements Reference {
  constructor(
    readonly registry: string,
    readonly repository: string,
    readonly tag: string | undefined,
    readonly digest: Digest | undefined,
  ) {}

  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  get ref(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }

  private suffix(): string {
    return (this.tag !== undefined ? `:${this.tag}` : '') + (this.digest !== undefined ? `@${this.digest}` : '');
  }

  get familiar(): string {
    let short = this.name;
    if (this.registry === DEFAULT_REGISTRY) {
      short = this.repository.startsWith('library/') && this.repository.split('/').length === 2
        ? this.repository.slice('library/'.length)
        : this.repository;
    }
    return short + this.suffix();
  }

  toString(): string {
    return this.name + this.suffix();
  }
}

/**
 * Parses and normalises a reference. A missing tag (and no digest) becomes `latest`; with a
 * digest the tag is kept only if given, and the digest is what is pulled.
 */
export function parseReference(input: string): Reference {
  let s = input.trim();
  if (s.startsWith('docker://')) s = s.slice('docker://'.length);
  if (s === '') throw bad(input, 'it is empty');

  let digest: Digest | undefined;
  const at = s.indexOf('@');
  if (at !== -1) {
    const d = s.slice(at + 1);
    if (!isDigest(d)) throw bad(input, 'the digest must be "sha256:" followed by 64 lowercase hex digits');
    digest = d as Digest;
    s = s.slice(0, at);
  }

  // A tag is the part after the last ':' that follows the last '/' (a ':' before it is a port).
  let tag: string | undefined;
  const lastColon = s.lastIndexOf(':');
  if (lastColon > s.lastIndexOf('/')) {
    tag = s.slice(lastColon + 1);
    s = s.slice(0, lastColon);
    if (!TAG_RE.test(tag)) throw bad(input, `the tag "${tag}" may only hold letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')`);
  }
  if (s === '') throw bad(input, 'the repository name is empty');

  let registry = DEFAULT_REGISTRY;
  let repository = s;
  const slash = s.indexOf('/');
  if (slash !== -1) {
    const first = s.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first;
      repository = s.slice(slash + 1);
    }
  }
  if (!DOMAIN_RE.test(registry)) throw bad(input, `"${registry}" is not a valid registry host`);
  if (registry === 'index.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;

  if (repository !== repository.toLowerCase()) throw bad(input, 'the repository name must be lowercase');
  if (!PATH_RE.test(repository)) {
    throw bad(input, 'the repository name may only hold lowercase letters, digits and single separators (., _, __, -) between path components');
  }
  if (/^[a-f0-9]{64}$/.test(repository) || /^library\/[a-f0-9]{64}$/.test(repository) && registry === DEFAULT_REGISTRY && !s.includes('/')) {
    throw bad(input, 'a 64-character hex string is an image ID, not a name');
  }
  if (registry.length + 1 + repository.length > NAME_MAX) throw bad(input, `the name is longer than ${NAME_MAX} characters`);
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return new ParsedReference(registry, repository, tag, digest);
}

/** Names of other transports, which are never short names. */
const TRANSPORT = /^(oci|oci-archive|docker-archive|docker):/;

/** `name` and `:tag@digest` of a reference as typed, or undefined when it names a registry host. */
export function splitShortName(input: string): { name: string; suffix: string } | undefined {
  const s = input.trim();
  if (TRANSPORT.test(s) || /^(sha256:)?[a-f0-9]{12,64}$/.test(s)) return undefined;
  const at = s.indexOf('@');
  let name = at === -1 ? s : s.slice(0, at);
  let suffix = at === -1 ? '' : s.slice(at);
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    suffix = name.slice(colon) + suffix;
    name = name.slice(0, colon);
  }
  const first = name.split('/')[0]!;
  // distribution/reference's rule: a first component with '.' or ':', localhost, or an upper-case letter is a host.
  if (name.includes('/') && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase())) return undefined;
  if (name === '') return undefined;
  return { name, suffix };
}
