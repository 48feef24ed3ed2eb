/**
 * Unpack cost per tar entry as a layer grows: the entry writer (the part of an unpack that is
 * flux's own, after decompression and tar parsing) fed N directories, each then replaced by a
 * file of the same name, the pattern that made unpacking quadratic. Linear code gives a flat
 * µs/entry curve; quadratic code one that grows with N.
 *
 *   node bench/sections/unpack.js [N ...]      (standalone; default 1000 4000 16000 64000)
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COUNTS = [1000, 4000, 16000, 64000];

const noFs = {
  mknod() {
    throw new Error('not used by this pattern');
  },
  lsetxattr() {},
  lgetxattr: () => undefined,
};

async function* empty() {}

function header(name, type) {
  return { name, type, mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: new Date(0) };
}

/** µs per entry (wall and CPU) of N directories then N files replacing them, in a fresh directory under `scratch`. */
async function replaceDirs(EntryWriter, scratch, n) {
  const dir = mkdtempSync(join(scratch, 'unpack-'));
  try {
    const w = new EntryWriter(dir, noFs, true, () => {});
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await w.entry(header(`d${i}/`, 'directory'), empty());
    for (let i = 0; i < n; i++) await w.entry(header(`d${i}`, 'file'), empty());
    w.finish();
    const cpu = process.cpuUsage(c0);
    const ns = Number(process.hrtime.bigint() - t0);
    // CPU time as well as wall time: on a shared machine the wall clock also counts others' work.
    return { wall: ns / 1000 / (2 * n), cpu: (cpu.user + cpu.system) / (2 * n) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchUnpack(ctx = {}, counts = COUNTS) {
  const { EntryWriter } = await import(pathToFileURL(join(ctx.app ?? ROOT, 'dist/store/unpack/entry-writer.js')).href);
  // On tmpfs: on a disk, the file system's own cost per entry (up to 1 ms on a busy ext4) hides the writer's.
  const scratch = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'flux-bench-unpack-'));
  const out = {};
  try {
    for (const n of counts) {
      const r = await replaceDirs(EntryWriter, scratch, n);
      out[n] = { usPerEntry: Number(r.wall.toFixed(2)), cpuUsPerEntry: Number(r.cpu.toFixed(2)) };
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const counts = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const r = await benchUnpack({}, counts.length ? counts : COUNTS);
  for (const [n, v] of Object.entries(r)) console.log(`${String(n).padStart(7)} dirs replaced by files: ${v.usPerEntry} µs/entry (CPU ${v.cpuUsPerEntry} µs/entry)`);
}
