/** `WWW-Authenticate` challenges (RFC 7235) as registries send them. Pure. */

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"`, also several challenges in one header. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  const re = /\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?/gy;
  let current: Challenge | undefined;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    const name = m[1]!;
    const value = m[2];
    if (value === undefined) {
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
      // A scheme is followed by a space, then its first parameter without a comma.
    } else if (current) {
      current.params[name.toLowerCase()] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
    }
    if (m[0] === '') break;
  }
  return out;
}
