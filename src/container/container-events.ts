/**
 * The lifecycle of every container of a user, one JSON line per event in containers/events
 * (created, started, exited with its code, signalled with the signal and the flux process that
 * sent it, removed): `flux events` reads it. Appends of one short line each (O_APPEND), so the
 * monitor and any flux command write it at once without a lock. Past 1 MiB it starts over,
 * keeping one older part.
 */
import { appendFileSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ContainerEvent {
  time: string;
  id: string;
  name: string;
  event: 'created' | 'started' | 'exited' | 'signalled' | 'removed';
  exitCode?: number | null;
  signal?: string;
  /** The flux process that sent a signal (its pid). */
  by?: number;
}

const MAX = 1024 * 1024;

export function recordEvent(root: string, e: Omit<ContainerEvent, 'time'>): void {
  const path = join(root, 'events');
  try {
    if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) > MAX) renameSync(path, `${path}.1`);
    appendFileSync(path, `${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`, { mode: 0o600 });
  } catch {
    // The events are a record, not the state: a full disk does not stop a container.
  }
}

export function readEvents(root: string, since?: Date): ContainerEvent[] {
  const out: ContainerEvent[] = [];
  for (const f of ['events.1', 'events']) {
    let text = '';
    try {
      text = readFileSync(join(root, f), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        out.push(JSON.parse(line) as ContainerEvent);
      } catch {
        /* a line cut by a crash */
      }
    }
  }
  const from = since?.toISOString();
  return from === undefined ? out : out.filter((e) => e.time >= from);
}
