/**
 * The layering in the README's picture, held against the imports of every module under src/ and
 * store/ (as go-containerregistry's depcheck does): an import the picture does not allow fails,
 * and so does any cycle, between modules or between files. Type-only imports count too: a type
 * pulls its module's meaning along.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Which module may import which, top to bottom. `base` is the handful of files at the top of src/
 * (errors, paths, formatting) that every layer may use; `entry` is src/index.ts, the package entry.
 */
const ALLOWED: Record<string, string[]> = {
  entry: ['library', 'base'],
  cli: ['commands', 'flags', 'library', 'base'],
  commands: ['library', 'flags', 'matrix', 'base'],
  flags: ['library', 'base'],
  library: ['container', 'pull', 'matrix', 'layers', 'sources', 'registry', 'store', 'image', 'base'],
  matrix: ['image', 'base'],
  container: ['pull', 'sandbox', 'userns', 'store', 'image', 'base'],
  pull: ['registry', 'sources', 'layers', 'store', 'image', 'base'],
  sources: ['registry', 'store', 'image', 'base'],
  registry: ['image', 'base'],
  layers: ['userns', 'native', 'store', 'image', 'base'],
  sandbox: ['userns', 'native', 'image', 'base'],
  userns: ['native', 'base'],
  // The unpacker's file-system calls (ffi.ts) implement store/unpack's interface.
  native: ['store', 'base'],
  store: ['image', 'base'],
  image: ['base'],
  base: ['base'],
};

/** The module a file belongs to: its directory under src/, or store. */
export function moduleOf(rel: string): string {
  const parts = rel.split('/');
  if (parts[0] === 'store') return 'store';
  if (parts.length === 2) return parts[1] === 'index.ts' ? 'entry' : 'base';
  return parts[1]!;
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(relative(ROOT, p));
  }
  return out;
}

/** Relative specifiers of every import, export-from and import() in a file, comments left out. */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found: string[] = [];
  const re = /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const spec = m[1] ?? m[2]!;
    if (spec.startsWith('.')) found.push(spec);
  }
  return found;
}

/** file → the files it imports, all relative to the repository. */
export function importGraph(files: string[], read: (rel: string) => string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    graph.set(f, importsOf(read(f)).map((s) => relative(ROOT, resolve(ROOT, dirname(f), s)).replace(/\.js$/, '.ts')));
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const t of graph.get(n) ?? []) {
      if (state.get(t) === 1) found.push([...stack.slice(stack.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

/** Every way the imports break the picture, one line each. */
export function violations(graph: Map<string, string[]>): string[] {
  const out: string[] = [];
  const modules = new Map<string, Set<string>>();
  for (const [from, tos] of graph) {
    const a = moduleOf(from);
    for (const to of tos) {
      if (!graph.has(to)) out.push(`${from} imports ${to}, which does not exist`);
      const b = moduleOf(to);
      if (a === b) continue;
      if (!(ALLOWED[a] ?? []).includes(b)) out.push(`${from} (${a}) imports ${to} (${b}): not allowed by the picture`);
      if (!modules.has(a)) modules.set(a, new Set());
      modules.get(a)!.add(b);
    }
  }
  for (const c of cycles(graph)) out.push(`file cycle: ${c.join(' -> ')}`);
  const moduleGraph = new Map([...modules].map(([k, v]) => [k, [...v]]));
  for (const c of cycles(moduleGraph)) out.push(`module cycle: ${c.join(' -> ')}`);
  return out;
}

const files = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'store'))];
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');

describe('depcheck: the imports follow the layering', () => {
  it('finds the imports of every kind', () => {
    expect(importsOf(`import a from './a.js';\nimport type { B } from "../b.js";\nexport { c } from './c.js';\nconst d = await import('./d.js');\n// import { e } from './e.js';\n/* import('./f.js') */\nimport 'node:fs';`)).toEqual(['./a.js', '../b.js', './c.js', './d.js']);
  });

  it('has no import the picture does not allow, and no cycle', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(violations(importGraph(files, read))).toEqual([]);
  });

  it('fails on an import against the picture, and on a cycle', () => {
    const graph = importGraph(files, read);
    const upward = new Map(graph);
    upward.set('store/store.ts', [...graph.get('store/store.ts')!, 'src/sandbox/supervisor.ts']);
    expect(violations(upward)).toContain('store/store.ts (store) imports src/sandbox/supervisor.ts (sandbox): not allowed by the picture');
    const cyclic = new Map(graph);
    cyclic.set('src/sandbox/plan.ts', [...graph.get('src/sandbox/plan.ts')!, 'src/sandbox/supervisor.ts']);
    expect(violations(cyclic).some((v) => v.startsWith('file cycle: ') && v.includes('src/sandbox/plan.ts'))).toBe(true);
  });

  it('keeps the library free of the command line, and the command line out of everything else', () => {
    for (const [from, tos] of importGraph(files, read)) {
      for (const to of tos) {
        if (['commands', 'cli'].includes(moduleOf(to))) expect([from, ['cli', 'commands'].includes(moduleOf(from))]).toEqual([from, true]);
      }
    }
  });
});
