/** Where a `node --cpu-prof` run spent its milliseconds: self time by function and by file. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function topOfProfile(dir, top = 10) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('node wrote no .cpuprofile');
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i] ?? 0) / 1000;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
  }
  const fns = new Map();
  const files = new Map();
  const kinds = new Map();
  let total = 0;
  for (const [id, ms] of self) {
    const cf = byId.get(id)?.callFrame ?? {};
    const where = shortUrl(cf.url);
    const fn = `${cf.functionName || '(anonymous)'}${where ? ` ${where}:${(cf.lineNumber ?? 0) + 1}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + ms);
    const f = where || cf.functionName || '(native)';
    files.set(f, (files.get(f) ?? 0) + ms);
    const k = kindOf(cf.url ?? '', cf.functionName ?? '');
    kinds.set(k, (kinds.get(k) ?? 0) + ms);
    total += ms;
  }
  const pick = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({ name, ms: Math.round(ms * 10) / 10 }));
  const wall = (prof.endTime - prof.startTime) / 1000;
  return { wallMs: Math.round(wall * 10) / 10, sampledMs: Math.round(total * 10) / 10, byKind: pick(kinds), byFunction: pick(fns), byFile: pick(files) };
}

function shortUrl(url) {
  if (!url) return '';
  const s = url.replace(/^file:\/\//, '');
  const nm = s.lastIndexOf('node_modules/');
  if (nm >= 0) return s.slice(nm);
  const d = s.indexOf('/dist/');
  return d >= 0 ? s.slice(d + 1) : s;
}

/** Coarse buckets: is the time Node starting, modules loading, flux working, or waiting? */
function kindOf(url, fn) {
  if (fn === '(idle)') return 'idle (waiting for children, I/O)';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'native / V8 (program)';
  if (/^node:internal\/(modules|url)|cjs-module-lexer|^node:path$|^node:internal\/vm/.test(url)) return 'module resolution and loading';
  if (/^node:internal\/(bootstrap|main|process)/.test(url)) return 'node bootstrap';
  if (url.includes('/node_modules/')) return 'dependencies (node_modules)';
  if (url.includes('/dist/')) return 'flux code (dist)';
  if (url.startsWith('node:')) return 'node built-ins';
  return url ? 'other' : `native: ${fn || '(anonymous)'}`.slice(0, 40);
}
