/** `flux bench`: the stages of a warm run on this machine, as a table or as JSON. */
import { FluxError } from '../errors.js';
import { escapeJson, escapeText } from '../escape.js';
import { Flux } from '../library/flux.js';
import type { BenchFigure, BenchFloor } from '../library/warm-bench.js';

const ROOTFS: Record<string, string> = { native: 'overlay (kernel, in a user namespace)', fuse: 'fuse-overlayfs', copy: 'a copy of the layers' };

const ms = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(1)} ms`);

function line(f: BenchFigure | BenchFloor, width: number): string {
  if ('skipped' in f && f.skipped !== undefined) return `  ${f.name.padEnd(width)}  not measured: ${f.skipped}`;
  const range = f.minMs === null || f.maxMs === null ? '' : `${f.minMs.toFixed(1)} – ${f.maxMs.toFixed(1)} ms`;
  return `  ${f.name.padEnd(width)}  ${ms(f.medianMs).padStart(9)}   ${range}`;
}

export async function benchCommand(image: string | undefined, o: { runs: string; network: string; json?: boolean }): Promise<void> {
  if (!/^\d+$/.test(o.runs)) throw new FluxError('BAD_OPTION', `--runs ${o.runs} is not a number of runs.`, { hint: 'Give --runs a whole number from 1 to 10000.', exitCode: 125 });
  const runs = Number(o.runs);
  const r = await new Flux().bench({ ...(image !== undefined ? { image } : {}), runs, network: o.network });
  if (o.json) {
    process.stdout.write(`${escapeJson(JSON.stringify(r, null, 2))}\n`);
    return;
  }
  const width = Math.max(...[...r.stages, ...r.floors].map((f) => f.name.length));
  const out = [
    `flux bench: ${r.image}`,
    `${r.runs} warm runs of \`true\` after a warm-up; root: ${ROOTFS[r.rootfs] ?? r.rootfs}; network: ${r.network}`,
    '',
    `  ${'stage'.padEnd(width)}  ${'median'.padStart(9)}   min – max`,
    ...r.stages.map((f) => line(f, width)),
    '',
    '  floors, same rounds',
    ...r.floors.map((f) => line(f, width)),
  ];
  process.stdout.write(`${out.map(escapeText).join('\n')}\n`);
}
