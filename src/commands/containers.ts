/** `flux ps`, `logs`, `stop`, `kill`, `wait`, `rm`: the library's Container calls, printed. */
import { eachName } from './each-name.js';
import { humanAge, humanSize } from '../format.js';
import { escapeJson, escapeText } from '../escape.js';
import { FluxError } from '../errors.js';
import { CLOSED_PIPE_STATUS, drained, readerGone } from '../host-output.js';
import { Flux } from '../library/flux.js';
import { killSignal, sinceTime, statsOfContainers, type ContainerInfo, type ContainerStats } from '../library/container.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

/** docker's STATUS column: `Up 5 seconds`, `Exited (143) 3 seconds ago`. */
export function statusText(c: Pick<ContainerInfo, 'state' | 'exitCode' | 'startedAt' | 'finishedAt' | 'created'>, now = Date.now()): string {
  if (c.state === 'created') return 'Created';
  if (c.state === 'running') return `Up ${humanAge(c.startedAt ?? c.created, now).replace(/ ago$/, '')}`;
  return `Exited (${c.exitCode ?? 'unknown'}) ${humanAge(c.finishedAt ?? c.created, now)}`;
}

export async function psCommand(o: { all?: boolean; quiet?: boolean; format?: string }): Promise<void> {
  if (o.format !== undefined && o.format !== 'json' && o.format !== 'table') {
    throw new FluxError('USAGE', `--format ${o.format} is not a format flux ps knows.`, { hint: 'Use --format json or --format table.', exitCode: 125 });
  }
  const containers = await new Flux().containers({ all: o.all ?? false });
  if (o.quiet) {
    process.stdout.write(containers.map((c) => `${c.id.slice(0, 12)}\n`).join(''));
    return;
  }
  const infos = containers.map((c) => c.info());
  const stats: ContainerStats[] = infos.some((i) => i.state === 'running') ? await statsOfContainers(containers) : [];
  const rows = infos.map((info, i) => ({ ...info, ...(stats[i] ?? { cpuPercent: 0, memoryBytes: 0, pids: 0, netRxBytes: 0, netTxBytes: 0, blockReadBytes: null, blockWriteBytes: null }) }));
  if (o.format === 'json') {
    process.stdout.write(`${escapeJson(JSON.stringify(rows, null, 2))}\n`);
    return;
  }
  const lines = [['CONTAINER ID', 'NAME', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'CPU %', 'MEM', 'PIDS']];
  for (const r of rows) {
    const command = r.command.join(' ');
    lines.push([
      r.id.slice(0, 12),
      r.name,
      r.image,
      JSON.stringify(command.length > 20 ? `${command.slice(0, 19)}…` : command),
      humanAge(r.created),
      statusText(r),
      r.ports.join(', '),
      r.state === 'running' ? `${r.cpuPercent.toFixed(1)}%` : '-',
      r.state === 'running' ? humanSize(r.memoryBytes) : '-',
      r.state === 'running' ? String(r.pids) : '-',
    ]);
  }
  process.stdout.write(table(lines.map((l) => l.map(escapeText))));
}

/** `flux logs`: its status, 0, or 141 when stdout or stderr was closed by its reader (see host-output.ts). */
export async function logsCommand(ref: string, o: { follow?: boolean; timestamps?: boolean; tail?: string; since?: string }): Promise<number> {
  let tail: number | undefined;
  if (o.tail !== undefined && o.tail !== 'all') {
    tail = Number(o.tail);
    if (!Number.isInteger(tail) || tail < 0) throw new FluxError('USAGE', `--tail ${o.tail} is not a number of lines.`, { hint: 'Give --tail a whole number, or all.', exitCode: 125 });
  }
  if (o.since !== undefined) sinceTime(o.since);
  const c = await new Flux().container(ref);
  const gone = (): boolean => readerGone(process.stdout) || readerGone(process.stderr);
  for await (const l of c.logs({ follow: o.follow ?? false, ...(tail !== undefined ? { tail } : {}), ...(o.since !== undefined ? { since: sinceTime(o.since) } : {}) })) {
    if (gone()) break;
    const text = `${o.timestamps ? `${l.time} ` : ''}${l.line}\n`;
    const stream = l.stream === 'stderr' ? process.stderr : process.stdout;
    if (!stream.write(text) && !gone()) await drained(stream);
  }
  // The error of the last write comes on the next tick.
  await new Promise((r) => setImmediate(r));
  return gone() ? CLOSED_PIPE_STATUS : 0;
}

/** Runs `each` on every named container; one that fails is reported and the rest still done. */
async function forEach(refs: string[], each: (ref: string) => Promise<string>): Promise<void> {
  const flux = new Flux();
  await eachName(refs, async (ref) => {
    await flux.container(ref);
    return each(ref);
  });
}

export async function stopCommand(refs: string[], o: { time?: string }): Promise<void> {
  const timeout = o.time === undefined ? 10 : Number(o.time);
  if (!Number.isFinite(timeout) || timeout < 0) throw new FluxError('USAGE', `-t ${o.time} is not a number of seconds.`, { hint: 'Give -t the seconds to wait before SIGKILL, e.g. -t 10.', exitCode: 125 });
  const flux = new Flux();
  await forEach(refs, async (ref) => {
    await (await flux.container(ref)).stop({ timeout });
    return ref;
  });
}

export async function killCommand(refs: string[], o: { signal?: string }): Promise<void> {
  // Refused once, before any container, when it names no signal.
  const sig = killSignal(o.signal ?? 'SIGKILL');
  const flux = new Flux();
  await forEach(refs, async (ref) => {
    await (await flux.container(ref)).kill(sig);
    return ref;
  });
}

/** `flux port NAME [PORT]`: `80/tcp -> 0.0.0.0:49153` per forward, or the host addresses of one port. */
export async function portCommand(ref: string, port?: string): Promise<void> {
  const mappings = await (await new Flux().container(ref)).ports(port);
  const host = (m: { hostIp: string; hostPort: number }) => `${m.hostIp}:${m.hostPort}`;
  process.stdout.write(mappings.map((m) => (port === undefined ? `${m.containerPort}/${m.protocol} -> ${host(m)}\n` : `${host(m)}\n`)).join(''));
}

export async function waitCommand(refs: string[]): Promise<void> {
  const flux = new Flux();
  await forEach(refs, async (ref) => String((await (await flux.container(ref)).wait()) ?? 'unknown'));
}

export async function rmCommand(refs: string[], o: { force?: boolean }): Promise<void> {
  const flux = new Flux();
  await forEach(refs, async (ref) => {
    await (await flux.container(ref)).remove({ force: o.force ?? false });
    return ref;
  });
}

/** `flux exec`: the command's status is flux's. */
export async function execCommand(ref: string, command: string[], o: { interactive?: boolean; tty?: boolean; env?: string[]; user?: string; workdir?: string }): Promise<number> {
  const c = await new Flux().container(ref);
  const r = await c.exec(command[0] === '--' ? command.slice(1) : command, {
    env: o.env ?? [],
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.workdir !== undefined ? { workdir: o.workdir } : {}),
    stdin: o.interactive ? 'inherit' : 'ignore',
    tty: o.tty ?? false,
  });
  return r.exitCode;
}

/** `flux stats`: usage of running containers, refreshed each second on a terminal, once otherwise. */
export async function statsCommand(refs: string[], o: { noStream?: boolean; format?: string }): Promise<void> {
  if (o.format !== undefined && o.format !== 'json' && o.format !== 'table') {
    throw new FluxError('USAGE', `--format ${o.format} is not a format flux stats knows.`, { hint: 'Use --format json or --format table.', exitCode: 125 });
  }
  const flux = new Flux();
  const list = refs.length > 0 ? await Promise.all(refs.map((r) => flux.container(r))) : await flux.containers();
  const stream = !o.noStream && o.format !== 'json' && process.stdout.isTTY === true;
  for (;;) {
    const stats = await statsOfContainers(list);
    const rows = list.map((c, i) => ({ id: c.id, name: c.name, ...stats[i]! }));
    if (o.format === 'json') {
      process.stdout.write(`${escapeJson(JSON.stringify(rows, null, 2))}\n`);
      return;
    }
    const lines = [['CONTAINER ID', 'NAME', 'CPU %', 'MEM', 'NET I/O', 'BLOCK I/O', 'PIDS']];
    for (const r of rows) {
      // '--' where the kernel does not let us read the processes' I/O counts.
      const block = r.blockReadBytes === null || r.blockWriteBytes === null ? '--' : `${humanSize(r.blockReadBytes)} / ${humanSize(r.blockWriteBytes)}`;
      lines.push([r.id.slice(0, 12), r.name, `${r.cpuPercent.toFixed(1)}%`, humanSize(r.memoryBytes), `${humanSize(r.netRxBytes)} / ${humanSize(r.netTxBytes)}`, block, String(r.pids)]);
    }
    // On a terminal the table is redrawn in place (clear screen, cursor home), as docker stats does.
    process.stdout.write(`${stream ? '\x1b[2J\x1b[H' : ''}${table(lines.map((l) => l.map(escapeText)))}`);
    if (!stream) return;
    await new Promise((r) => setTimeout(r, 900));
  }
}

/** `flux events`: what happened to the containers, oldest first. */
export async function eventsCommand(o: { since?: string; format?: string }): Promise<void> {
  if (o.format !== undefined && o.format !== 'json' && o.format !== 'table') {
    throw new FluxError('USAGE', `--format ${o.format} is not a format flux events knows.`, { hint: 'Use --format json or --format table.', exitCode: 125 });
  }
  const events = await new Flux().events(o.since !== undefined ? { since: sinceTime(o.since) } : {});
  if (o.format === 'json') {
    process.stdout.write(`${escapeJson(JSON.stringify(events, null, 2))}\n`);
    return;
  }
  for (const e of events) {
    const detail = [`name=${e.name}`, ...(e.event === 'exited' ? [`exitCode=${e.exitCode ?? 'unknown'}`] : []), ...(e.signal ? [`signal=${e.signal}`, `by=${e.by}`] : [])];
    process.stdout.write(`${escapeText(`${e.time} container ${e.event} ${e.id} (${detail.join(', ')})`)}\n`);
  }
}

/** `flux container prune`: every ended container goes; their IDs are printed. */
export async function containerPruneCommand(): Promise<void> {
  const ids = await new Flux().pruneContainers();
  process.stdout.write(ids.map((id) => `${id}\n`).join(''));
}
