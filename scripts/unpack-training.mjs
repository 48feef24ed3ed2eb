/**
 * A small layer for the unpack worker to unpack once at build time, before its code cache is
 * made (scripts/bundle.mjs, writeWorkerCodeCache): the cache then holds the unpack path's code
 * (the tar parser, the gunzip and hashing streams, the entry writer, the following of a
 * downloading blob), which a cold pull's unpacker otherwise compiles on its first layer. Entries
 * of the kinds an image has most (a large file, directories, symlinks, hard links, small files),
 * owned by whoever builds, so that the unpack needs no privilege.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const tar = createRequire(import.meta.url)('tar-stream');

function tarOf(entries) {
  return new Promise((resolve, reject) => {
    const pack = tar.pack();
    const chunks = [];
    pack.on('data', (c) => chunks.push(c));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
    for (const [header, body] of entries) pack.entry(header, body);
    pack.finalize();
  });
}

/** The job lines that make the worker unpack the layer as a cold pull does (following its blob), in `dir`. */
export async function trainingJobs(dir) {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const own = { uid, gid, mtime: new Date(0) };
  const entries = [[{ name: 'bin/', type: 'directory', mode: 0o755, ...own }], [{ name: 'bin/tool', mode: 0o755, ...own }, Buffer.alloc(512 * 1024, 7)]];
  for (let i = 0; i < 64; i++) entries.push([{ name: `bin/link${i}`, type: 'link', linkname: 'bin/tool', mode: 0o755, ...own }]);
  for (let i = 0; i < 64; i++) entries.push([{ name: `bin/sym${i}`, type: 'symlink', linkname: 'tool', mode: 0o777, ...own }]);
  entries.push([{ name: 'etc/', type: 'directory', mode: 0o755, ...own }]);
  for (let i = 0; i < 32; i++) entries.push([{ name: `etc/file${i}`, mode: 0o644, ...own }, Buffer.from(`line ${i}\n`)]);
  const plain = await tarOf(entries);
  const blob = join(dir, 'layer.tar.gz');
  writeFileSync(blob, gzipSync(plain));
  const unpackDir = join(dir, 'unpack');
  mkdirSync(unpackDir, { mode: 0o755 });
  const size = (await import('node:fs')).statSync(blob).size;
  const job = {
    op: 'unpack',
    blob,
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    diffId: `sha256:${createHash('sha256').update(plain).digest('hex')}`,
    dir: unpackDir,
    dest: join(dir, 'layer'),
    userXattr: uid !== 0,
    follow: { partial: join(dir, 'layer.tar.gz.partial'), size, token: 'build' },
  };
  return `${JSON.stringify({ id: 0, job })}\n${JSON.stringify({ id: 1, job: { op: 'blob', token: 'build', ok: true } })}\n`;
}
