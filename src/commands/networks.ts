/** `flux network create|ls|inspect|rm|prune`: the library's network calls, printed. */
import { eachName } from './each-name.js';
import { FluxError } from '../errors.js';
import { escapeText } from '../escape.js';
import { Flux } from '../library/flux.js';

export async function networkCreateCommand(name: string, o: { subnet?: string; internal?: boolean }): Promise<void> {
  const n = await new Flux().createNetwork(name, o);
  process.stdout.write(`${n.name}\n`);
}

export async function networkLsCommand(o: { format?: string }): Promise<void> {
  if (o.format !== undefined && o.format !== 'json' && o.format !== 'table') {
    throw new FluxError('USAGE', `--format ${o.format} is not a format flux network ls knows.`, { hint: 'Use --format json or --format table.', exitCode: 125 });
  }
  const nets = await new Flux().networks();
  if (o.format === 'json') {
    process.stdout.write(`${JSON.stringify(nets)}\n`);
    return;
  }
  const rows = [['NAME', 'SUBNET', 'INTERNAL', 'STATE', 'CONTAINERS'], ...nets.map((n) => [escapeText(n.name), n.subnet, String(n.internal), n.state, String(n.containers.length)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('')).join('\n') + '\n');
}

export async function networkInspectCommand(names: string[]): Promise<void> {
  const flux = new Flux();
  const out = [];
  for (const n of names) out.push(await flux.inspectNetwork(n));
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

export async function networkRmCommand(names: string[], o: { force?: boolean }): Promise<void> {
  const flux = new Flux();
  await eachName(names, async (n) => {
    await flux.removeNetwork(n, { force: o.force ?? false });
    return n;
  });
}

export async function networkPruneCommand(): Promise<void> {
  for (const n of await new Flux().pruneNetworks()) process.stdout.write(`${n}\n`);
}
