/** `flux images`: the images in the store, as a table or as stable JSON. */
import { humanAge, humanSize } from '../format.js';
import { escapeJson, escapeText } from '../escape.js';
import { Flux } from '../library/flux.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

export async function imagesCommand(o: { json?: boolean }): Promise<void> {
  const records = await new Flux().images();
  if (o.json) {
    process.stdout.write(`${escapeJson(JSON.stringify(records, null, 2))}\n`);
    return;
  }
  const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'UNPACKED']];
  for (const r of records) {
    rows.push([
      r.repository,
      r.tag ?? '<none>',
      // docker's IMAGE ID: the first 12 hex digits of the config digest.
      r.id.slice(7, 19),
      humanAge(r.created ?? undefined),
      humanSize(r.size),
      r.unpackedSize === null ? '-' : humanSize(r.unpackedSize),
    ]);
  }
  process.stdout.write(table(rows.map((r) => r.map(escapeText))));
}
