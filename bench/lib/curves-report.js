/**
 * The cost curves as markdown tables (stdout, docs/curves/README.md) and as one SVG chart each
 * (docs/curves/<name>.svg), from the raw samples of bench/sections/curves.js.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './stats.js';
import { lineChart } from './svg-chart.js';

const count = (n) => (n >= 1000 ? `${n / 1000}k` : String(n));

/** What each curve shows: its work axis, and the figure plotted (ms, or µs per entry). */
const CURVES = {
  layers: { title: 'Cold pull + unpack by number of layers', x: 'layers in the image', unit: 'ms' },
  entries: { title: 'Cold pull + unpack, one layer: time per entry', x: 'entries in the layer', unit: 'µs/entry', perEntry: true },
  matrix: { title: 'Matrix of cached images running `true`', x: 'images', unit: 'ms' },
  volumes: { title: 'Warm run `true` by number of volumes', x: 'bind-mounted volumes', unit: 'ms' },
  ps: { title: '`ps` by number of running containers', x: 'detached containers running', unit: 'ms' },
};

const PEER = { layers: 'podman pull', entries: 'podman pull', matrix: 'podman run × N, one per core at a time', volumes: 'podman run --rm', ps: 'podman ps' };

function value(curve, p, who) {
  const ms = median(p[who]?.samples ?? []);
  return CURVES[curve].perEntry ? (ms * 1000) / p.x : ms;
}

const show = (v, unit) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : v.toFixed(0)} ${unit}` : 'n/a');

/** One markdown table per curve, with its chart's file name. */
export function curveTables(curves) {
  const out = [];
  for (const [name, def] of Object.entries(CURVES)) {
    const c = curves?.[name];
    if (!c) continue;
    out.push(`### ${def.title.replace(/`/g, '')}\n`);
    if (c.error) {
      out.push(`failed: ${c.error}\n`);
      continue;
    }
    const extra = def.perEntry;
    const first = c.points[0];
    const from = first ? count(first.x) : '';
    out.push(`| ${def.x} | flux | ${PEER[name]} | flux/podman |${extra ? ` flux total | podman total | flux per entry beyond ${from} | podman per entry beyond ${from} | entry writer alone (tmpfs) |` : ''}`);
    out.push(`|---|---|---|---|${extra ? '---|---|---|---|---|' : ''}`);
    for (const p of c.points) {
      const f = value(name, p, 'flux');
      const q = value(name, p, 'podman');
      const peer = p.podman?.error && !p.podman.samples.length ? `podman failed: ${p.podman.error.slice(0, 60)}` : show(q, def.unit);
      const ratio = Number.isFinite(f) && Number.isFinite(q) ? `${(f / q).toFixed(2)}×` : '';
      const cells = [count(p.x), show(f, def.unit), peer, ratio];
      // Per entry beyond the first point: the start-up and fixed costs a small layer's figure carries cancel out.
      const beyond = (who) => (p === first ? NaN : ((median(p[who]?.samples ?? []) - median(first[who]?.samples ?? [])) * 1000) / (p.x - first.x));
      if (extra) cells.push(show(median(p.flux?.samples ?? []), 'ms'), show(median(p.podman?.samples ?? []), 'ms'), p === first ? '' : show(beyond('flux'), 'µs'), p === first ? '' : show(beyond('podman'), 'µs'), show(p.writerUsPerEntry, 'µs/entry'));
      out.push(`| ${cells.join(' | ')} |`);
    }
    out.push(`\n![${def.title.replace(/`/g, '')}](${name}.svg)\n`);
  }
  return out.join('\n');
}

/** Writes dir/<curve>.svg for each curve measured; returns the files written. */
export function writeCurveCharts(curves, dir) {
  mkdirSync(dir, { recursive: true });
  const written = [];
  for (const [name, def] of Object.entries(CURVES)) {
    const c = curves?.[name];
    if (!c?.points?.length) continue;
    const series = [
      { name: 'flux', values: c.points.map((p) => value(name, p, 'flux')) },
      { name: 'podman', values: c.points.map((p) => value(name, p, 'podman')) },
    ];
    if (def.perEntry) series.push({ name: 'flux entry writer', values: c.points.map((p) => p.writerUsPerEntry ?? NaN), dashed: true });
    const svg = lineChart({ title: def.title.replace(/`/g, ''), xLabel: def.x, yLabel: `median, ${def.unit}`, xs: c.points.map((p) => count(p.x)), series });
    const file = join(dir, `${name}.svg`);
    writeFileSync(file, svg);
    written.push(file);
  }
  return written;
}
