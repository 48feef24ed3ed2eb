/**
 * /etc/hosts, /etc/hostname and /etc/resolv.conf are flux's own files, never written through
 * what the image put at those paths. An image whose entries there are symlinks must neither
 * reach the symlinks' targets (a file on the host, a file of the image, or a kernel setting
 * under /proc: with /etc/hosts -> /proc/sys/kernel/core_pattern a root run once wrote the host's
 * core_pattern) nor hide the generated content from the command.
 *
 * The kernel setting here is /proc/sys/kernel/domainname, which belongs to the container's own
 * UTS namespace: it stands for core_pattern without touching anything outside the container.
 * Every root kind (native overlay, fuse-overlayfs, copy), rootless and as real root.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chown, mkdtemp, readFile, rm, writeFile, chmod, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxWith } from '../helpers/image-layer.js';
import { runFlux, tempStore, removeStore, isRoot, testUser } from '../helpers/user.js';
import { needFuse, requireTool } from '../helpers/require.js';
import { hostsFile } from '../../src/sandbox/hosts-file.js';

const FILES = ['hosts', 'hostname', 'resolv.conf'] as const;
const HOSTNAME = 'etc-files-test';
const ORIGINAL = 'ORIGINAL TARGET\n';
/** What flux generates for `--network none --hostname etc-files-test`. */
const GENERATED: Record<(typeof FILES)[number], string> = {
  hosts: hostsFile(HOSTNAME, '127.0.1.1'),
  hostname: `${HOSTNAME}\n`,
  'resolv.conf': '# no network (--network none)\n',
};

let hostDir: string;
const images: Record<'host' | 'proc' | 'image', string> = { host: '', proc: '', image: '' };

const etcLinks = (target: (f: string) => string) => [
  { name: 'etc', type: 'directory' as const },
  ...FILES.map((f) => ({ name: `etc/${f}`, type: 'symlink' as const, linkname: target(f) })),
];

beforeAll(async () => {
  requireTool('newuidmap');
  // Files on the host the symlinks name by absolute path, writable by whoever runs flux.
  hostDir = await mkdtemp(join(tmpdir(), 'flux-etc-target-'));
  await chmod(hostDir, 0o755);
  const u = await testUser();
  for (const f of FILES) {
    await writeFile(join(hostDir, f), ORIGINAL, { mode: 0o666 });
    if (isRoot) await chown(join(hostDir, f), u.uid, u.gid);
  }
  images.host = await busyboxWith(etcLinks((f) => join(hostDir, f)));
  images.proc = await busyboxWith(etcLinks(() => '/proc/sys/kernel/domainname'));
  images.image = await busyboxWith([
    { name: 'srv', type: 'directory' },
    ...FILES.map((f) => ({ name: `srv/${f}`, content: ORIGINAL })),
    ...etcLinks((f) => `/srv/${f}`),
  ]);
});

afterAll(async () => {
  for (const dir of [hostDir, ...Object.values(images)]) if (dir) await rm(dir, { recursive: true, force: true });
});

const SCRIPT = [
  ...FILES.map((f) => `cat /etc/${f}; echo "--- ${f}"`),
  'cat /proc/sys/kernel/domainname; echo "--- domainname"',
  ...FILES.map((f) => `cat /srv/${f} 2>/dev/null; echo "--- srv/${f}"`),
].join('; ');

/** The command's output, split at the "--- name" markers. */
function sections(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  let cur = '';
  for (const line of out.split('\n')) {
    const m = /^--- (.+)$/.exec(line);
    if (m) {
      r[m[1]!] = cur;
      cur = '';
    } else {
      cur += `${line}\n`;
    }
  }
  return r;
}


const MODES = [
  { mode: 'rootless', asUser: true, root: false },
  { mode: 'real root', asUser: false, root: true },
] as const;

for (const { mode, asUser, root } of MODES) {
  describe.skipIf(root && !isRoot)(`/etc files through image symlinks (${mode})`, () => {
    let store: string;
    beforeAll(async () => {
      store = await tempStore(root ? 'root' : undefined);
      for (const dir of Object.values(images)) {
        const r = await runFlux(['pull', '-q', `oci:${dir}`], { store, asUser: asUser && isRoot });
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
    });
    afterAll(async () => {
      if (store) await removeStore(store);
    });

    describe.each(['native', 'fuse', 'copy'] as const)('root kind %s', (kind) => {
      it.each(['host', 'proc', 'image'] as const)('symlinks to a %s target are replaced, never written through', async (which) => {
        if (kind === 'fuse') needFuse();
        const r = await runFlux(['run', '--network', 'none', '--hostname', HOSTNAME, `oci:${images[which]}`, '--', 'sh', '-c', SCRIPT], {
          store, asUser: asUser && isRoot, env: { FLUX_OVERLAY: kind },
        });
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const s = sections(r.stdout);
        for (const f of FILES) expect(s[f]).toBe(GENERATED[f]);
        // The container's kernel setting is still its default.
        expect(s.domainname).toBe('(none)\n');
        // The image's own files and the host's are as they were.
        for (const f of FILES) expect(s[`srv/${f}`]).toBe(which === 'image' ? ORIGINAL : '');
        for (const f of FILES) {
          expect((await lstat(join(hostDir, f))).isFile()).toBe(true);
          expect(await readFile(join(hostDir, f), 'utf8')).toBe(ORIGINAL);
        }
      });

      it('keeps them writable with --read-only, still apart from the image\'s files', async () => {
        if (kind === 'fuse') needFuse();
        const script = `${FILES.map((f) => `echo added >> /etc/${f}`).join(' && ')} && ${FILES.map((f) => `cat /etc/${f} /srv/${f}`).join(' && ')}`;
        const r = await runFlux(['run', '--read-only', '--network', 'none', '--hostname', HOSTNAME, `oci:${images.image}`, '--', 'sh', '-c', script], {
          store, asUser: asUser && isRoot, env: { FLUX_OVERLAY: kind },
        });
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(FILES.map((f) => `${GENERATED[f]}added\n${ORIGINAL}`).join(''));
      });
    });
  });
}
