/**
 * PAX extended headers, read so that binary xattr values survive. tar-stream decodes every PAX
 * value as UTF-8, which mangles `SCHILY.xattr.security.capability` and other binary attributes,
 * so its decoder is replaced (once, for the whole process) by one that keeps xattr values as
 * latin1 strings (one char per byte) and that refuses malformed records instead of skipping
 * them silently (a silent skip is how tar parsers end up disagreeing about an archive).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const XATTR_KEY = 'SCHILY.xattr.';
let patched = false;

export function decodePax(input: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let buf = input;
  while (buf.length > 0) {
    if (buf[0] === 0) break; // zero padding after the last record
    const space = buf.indexOf(0x20);
    const len = space > 0 ? Number(buf.subarray(0, space).toString('latin1')) : NaN;
    if (!Number.isSafeInteger(len) || len <= space + 1 || len > buf.length || buf[len - 1] !== 0x0a) {
      throw new Error('Invalid PAX extended header record');
    }
    const record = buf.subarray(space + 1, len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new Error('Invalid PAX extended header record');
    const key = record.subarray(0, eq).toString('utf8');
    const raw = record.subarray(eq + 1);
    result[key] = key.startsWith(XATTR_KEY) ? raw.toString('latin1') : raw.toString('utf8');
    buf = buf.subarray(len);
  }
  return result;
}

/** Installs decodePax into tar-stream; its module object is shared, so extract() picks it up. */
export function installPaxDecoder(): void {
  if (patched) return;
  const require = createRequire(import.meta.url);
  const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as { decodePax: unknown };
  headers.decodePax = decodePax;
  patched = true;
}

/** The xattrs a PAX header carries, with their exact bytes. */
export function paxXattrs(pax: Record<string, string> | null | undefined): Array<[string, Buffer]> {
  if (!pax) return [];
  const out: Array<[string, Buffer]> = [];
  for (const [key, value] of Object.entries(pax)) {
    if (key.startsWith(XATTR_KEY) && key.length > XATTR_KEY.length) {
      out.push([key.slice(XATTR_KEY.length), Buffer.from(value, 'latin1')]);
    }
  }
  return out;
}
