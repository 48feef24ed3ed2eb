import { describe, expect, it } from 'vitest';
import { decodePax, paxXattrs } from '../../store/unpack/pax.js';

function record(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

describe('PAX headers', () => {
  it('keeps binary xattr values byte for byte (security.capability)', () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe, 0x80, 0x00]);
    const pax = decodePax(Buffer.concat([record('path', Buffer.from('usr/bin/ping')), record('SCHILY.xattr.security.capability', cap)]));
    expect(pax.path).toBe('usr/bin/ping');
    expect(paxXattrs(pax)).toEqual([['security.capability', cap]]);
  });

  it('decodes UTF-8 paths', () => {
    expect(decodePax(record('path', Buffer.from('données/é.txt'))).path).toBe('données/é.txt');
  });

  it('refuses malformed records instead of skipping them', () => {
    expect(() => decodePax(Buffer.from('99 path=x\n'))).toThrow(/Invalid PAX/);
    expect(() => decodePax(Buffer.from('11 pathx\n'))).toThrow(/Invalid PAX/);
    expect(() => decodePax(Buffer.from('abc path=x\n'))).toThrow(/Invalid PAX/);
  });
});
