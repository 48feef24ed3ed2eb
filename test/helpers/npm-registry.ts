/**
 * A loopback npm registry holding this checkout's installed production dependencies (each
 * package's directory as installed, packed as npm packs: under `package/`), so `npm install` of
 * the packed flux runs as a user's would, with no network beyond loopback.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './user.js';

export interface NpmRegistry {
  url: string;
  /** The packages it serves (name@version). */
  packages: string[];
  stop(): Promise<void>;
}

interface LockEntry {
  dev?: boolean;
  link?: boolean;
}

export async function startNpmRegistry(): Promise<NpmRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-npm-registry-'));
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packuments = new Map<string, { name: string; versions: Record<string, unknown>; 'dist-tags': Record<string, string> }>();
  const tarballs = new Map<string, string>();
  const served: string[] = [];
  let url = '';
  const pending: Array<{ name: string; version: string; file: string; pkg: Record<string, unknown> }> = [];
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '' || entry.dev || entry.link) continue;
    const pkgDir = join(REPO_ROOT, key);
    // Optional packages of other platforms were never installed here.
    if (!existsSync(join(pkgDir, 'package.json'))) continue;
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown> & { name: string; version: string };
    const id = `${pkg.name}@${pkg.version}`;
    if (served.includes(id)) continue;
    served.push(id);
    const file = `${pkg.name.replace('/', '-')}-${pkg.version}.tgz`;
    execFileSync('tar', ['-czf', join(dir, file), '--exclude=./node_modules', '--owner=0', '--group=0', '--transform', 's,^\\.,package,', '-C', pkgDir, '.']);
    pending.push({ name: pkg.name, version: pkg.version, file, pkg });
  }
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!.slice(1));
    const tarball = path.startsWith('-/') ? tarballs.get(path.slice(2)) : undefined;
    if (tarball) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(readFileSync(tarball));
      return;
    }
    const doc = packuments.get(path);
    if (!doc) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(doc));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  for (const p of pending) {
    const bytes = await readFile(join(dir, p.file));
    tarballs.set(p.file, join(dir, p.file));
    const doc = packuments.get(p.name) ?? { name: p.name, versions: {}, 'dist-tags': {} };
    doc.versions[p.version] = {
      ...p.pkg,
      dist: { tarball: `${url}-/${p.file}`, integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}` },
    };
    const latest = doc['dist-tags'].latest;
    if (!latest || latest.localeCompare(p.version, undefined, { numeric: true }) < 0) doc['dist-tags'].latest = p.version;
    packuments.set(p.name, doc);
  }
  return {
    url,
    packages: served,
    stop: async () => {
      await new Promise<void>((ok) => server.close(() => ok()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
