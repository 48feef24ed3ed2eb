/**
 * A container's log, as its monitor (native/monitor.c) writes it: one JSON line per line of
 * output, `{"t": ISO time, "s": "stdout" | "stderr", "l": text}`, so the stream and time of each
 * line are kept, in the order the monitor read them. JSON keeps a line that holds anything
 * (escapes, a tab) one line in the file. Past its cap the log becomes log.1 (the one before goes)
 * and a new log starts, so a chatty container holds at most twice the cap on disk.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';

export interface LogLine {
  stream: 'stdout' | 'stderr';
  time: string;
  line: string;
}

/** Parses a size such as 10m, 512k or 1g (bytes without a unit). */
export function parseLogSize(text: string): number | undefined {
  const m = /^(\d+)([kmg]?)b?$/i.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
  return n >= 4096 ? n : undefined;
}

function parse(text: string): LogLine | undefined {
  try {
    const r = JSON.parse(text) as { t: string; s: string; l: string };
    return { time: r.t, stream: r.s === 'stderr' ? 'stderr' : 'stdout', line: r.l };
  } catch {
    return undefined;
  }
}

/**
 * Reads whole lines from `offset` on; returns them and where the next read starts. A file shorter
 * than `offset` was rotated meanwhile: it is read from its start.
 */
export function readFrom(path: string, offset: number): { lines: LogLine[]; next: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { lines: [], next: offset };
  }
  try {
    const size = fstatSync(fd).size;
    if (size < offset) offset = 0;
    if (size <= offset) return { lines: [], next: offset };
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    const text = buf.subarray(0, n).toString('utf8');
    // A line still being written stays for the next read.
    const end = text.lastIndexOf('\n') + 1;
    const lines = text.slice(0, end).split('\n').filter((t) => t !== '').map(parse).filter((l): l is LogLine => l !== undefined);
    return { lines, next: offset + Buffer.byteLength(text.slice(0, end)) };
  } finally {
    closeSync(fd);
  }
}
