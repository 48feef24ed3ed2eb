/**
 * Random access into an uncompressed tar file: one pass over the headers records where each
 * member's data lies, so an archive's blobs are read in place, never extracted. Handles ustar
 * prefixes, GNU long names and pax `path`/`linkpath`; symlinks and hard links resolve to their target.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { FluxError } from '../errors.js';

interface Member {
  offset: number;
  size: number;
  type: string;
  link?: string;
}

function cstr(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function octal(buf: Buffer, start: number, len: number): number {
  // Base-256 for very large sizes (GNU): high bit of the first byte set.
  if ((buf[start]! & 0x80) !== 0) {
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + buf[i]!;
    return v;
  }
  const s = cstr(buf, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function parsePax(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(' ', i);
    if (sp === -1) break;
    const len = parseInt(body.slice(i, sp), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = body.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq !== -1) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

function clean(name: string): string {
  return posix.normalize(name.replace(/^\.?\/+/, '')).replace(/\/+$/, '');
}

/** Long names (GNU L/K) and PAX records of real archives are a few hundred bytes; xattrs a few KiB. */
const MAX_HEADER_BYTES = 1024 * 1024;

export class TarIndex {
  private constructor(readonly file: string, private readonly members: Map<string, Member>) {}

  static async open(file: string, what: string): Promise<TarIndex> {
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      throw new FluxError('SOURCE_NOT_FOUND', `cannot open the ${what} ${file}: ${(err as Error).message}.`, {
        hint: 'Check the path after the transport prefix.',
        exitCode: 125,
      });
    }
    const members = new Map<string, Member>();
    try {
      const size = (await fh.stat()).size;
      const head = Buffer.alloc(512);
      await fh.read(head, 0, 512, 0);
      if (head[0] === 0x1f && head[1] === 0x8b) {
        throw new FluxError('ARCHIVE_COMPRESSED', `the ${what} ${file} is gzip-compressed.`, {
          hint: `Decompress it first (gunzip -k ${file}) and import the .tar.`,
        });
      }
      if (size < 512) {
        throw new FluxError('BAD_ARCHIVE', `the ${what} ${file} is not a tar archive.`, {
          hint: 'Give a tar file as written by `skopeo copy`, `podman save` or `docker save`.',
        });
      }
      let pos = 0;
      let longName: string | undefined;
      let longLink: string | undefined;
      let pax: Record<string, string> = {};
      const hdr = Buffer.alloc(512);
      while (pos + 512 <= size) {
        await fh.read(hdr, 0, 512, pos);
        if (hdr.every((b) => b === 0)) break;
        if (cstr(hdr, 257, 5) !== 'ustar') {
          throw new FluxError('BAD_ARCHIVE', `the ${what} ${file} is not a tar archive.`, {
            hint: 'Give a tar file as written by `skopeo copy`, `podman save` or `docker save`.',
          });
        }
        const msize = octal(hdr, 124, 12);
        const type = String.fromCharCode(hdr[156]! || 0x30);
        const dataAt = pos + 512;
        const next = dataAt + Math.ceil(msize / 512) * 512;
        if (type === 'L' || type === 'K' || type === 'x') {
          // Read into memory whole: a header that says it is larger than any name or PAX record
          // needs (or than the file) is refused before its size is allocated.
          if (msize > MAX_HEADER_BYTES || dataAt + msize > size) {
            throw new FluxError('BAD_ARCHIVE', `the ${what} ${file} has a tar header at byte ${pos} that declares a ${msize}-byte name or PAX record, more than any archive needs or than the file holds.`, {
              hint: 'Do not use this archive: it is broken or hostile.',
            });
          }
          const body = Buffer.alloc(msize);
          await fh.read(body, 0, msize, dataAt);
          if (type === 'L') longName = cstr(body, 0, msize);
          else if (type === 'K') longLink = cstr(body, 0, msize);
          else pax = parsePax(body.toString('utf8'));
          pos = next;
          continue;
        }
        if (type === 'g') {
          pos = next;
          continue;
        }
        const prefix = cstr(hdr, 345, 155);
        const base = cstr(hdr, 0, 100);
        const name = clean(pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base));
        const link = pax.linkpath ?? longLink ?? cstr(hdr, 157, 100);
        members.set(name, { offset: dataAt, size: pax.size ? Number(pax.size) : msize, type, link: link || undefined });
        longName = longLink = undefined;
        pax = {};
        pos = next;
      }
    } finally {
      await fh.close();
    }
    return new TarIndex(file, members);
  }

  /** The regular member `name` resolves to, following symlinks (relative to the link's directory) and hard links. */
  private resolve(name: string): Member | undefined {
    let n = clean(name);
    for (let hops = 0; hops < 16; hops++) {
      const m = this.members.get(n);
      if (!m) return undefined;
      if (m.type === '0' || m.type === '7') return m;
      if (m.type === '1' && m.link) n = clean(m.link);
      else if (m.type === '2' && m.link) n = clean(m.link.startsWith('/') ? m.link : posix.join(posix.dirname(n), m.link));
      else return undefined;
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }

  size(name: string): number | undefined {
    return this.resolve(name)?.size;
  }

  async read(name: string, max = 64 * 1024 * 1024): Promise<Buffer | undefined> {
    const m = this.resolve(name);
    if (!m) return undefined;
    if (m.size > max) throw new FluxError('ARCHIVE_MEMBER_TOO_LARGE', `${name} in ${this.file} is ${m.size} bytes, more than expected.`, { hint: 'Do not use this archive: it is broken or hostile.' });
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      await fh.read(buf, 0, m.size, m.offset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** A stream of member `name` from byte `offset`. */
  stream(name: string, offset = 0): Readable | undefined {
    const m = this.resolve(name);
    if (!m) return undefined;
    if (m.size === 0 || offset >= m.size) return Readable.from([]);
    return createReadStream(this.file, { start: m.offset + offset, end: m.offset + m.size - 1 });
  }
}
