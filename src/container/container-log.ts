/**
 * A container's log, as its monitor (native/monitor.c) writes it: one JSON line per line of
 * output, `{"t": ISO time, "s": "stdout" | "stderr", "l": text}`, so the stream and time of each
 * line are kept, in the order the monitor read them. JSON keeps a line that holds anything
 * (escapes, a tab) one line in the file. Past its cap the log becomes log.1 (the one before goes)
 * and a new log starts, so a chatty container holds at most twice the cap on disk.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

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

/** The inode a path names now, or undefined when there is none (removed, or being rotated). */
function inodeAt(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** The whole lines of `text`, and how many bytes they take: a line still being written stays for the next read. */
function wholeLines(text: Buffer): { lines: LogLine[]; used: number } {
  const end = text.lastIndexOf(0x0a) + 1;
  const lines = text.subarray(0, end).toString('utf8').split('\n').filter((t) => t !== '').map(parse).filter((l): l is LogLine => l !== undefined);
  return { lines, used: end };
}

/** Every whole line of the file at `path`, unless it is one of `skip` (by inode). */
function readWhole(path: string, skip: number[]): LogLine[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  try {
    const st = fstatSync(fd);
    if (skip.includes(st.ino)) return [];
    const buf = Buffer.alloc(st.size);
    return wholeLines(buf.subarray(0, readSync(fd, buf, 0, buf.length, 0))).lines;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a container's log as it grows, across rotations and after its state directory is gone.
 * The current log is held open, not reopened by its path: the file stays readable once it is
 * renamed to log.1, or removed with the directory at the end of a --rm container, so the lines
 * written before that are still read. A rotation is seen by the path naming another file (not by
 * the size, which the new log may have passed already): the file held is read to its end, then the
 * new one from its start.
 */
export class LogReader {
  private fd = -1;
  private ino = -1;
  private offset = 0;

  constructor(private readonly path: string) {}

  /** The lines written since the last call; the first call gives the older part (log.1) and the log. */
  read(): LogLine[] {
    if (this.fd < 0) {
      if (!this.open()) return [];
      // The older part first, unless a rotation since the open made the file held the older part.
      return [...readWhole(`${this.path}.1`, [this.ino]), ...this.drain()];
    }
    const out: LogLine[] = [];
    for (;;) {
      // Looked at before the file held is read: a rotation seen here came before that read, so
      // the read reaches the old file's end (the monitor writes nothing to it after the rename).
      const now = inodeAt(this.path);
      out.push(...this.drain());
      if (now === undefined || now === this.ino) return out;
      const old = this.ino;
      this.close();
      if (!this.open()) return out;
      // Two rotations since the last read: the part between the old file and the new log is log.1.
      out.push(...readWhole(`${this.path}.1`, [old, this.ino]));
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private open(): boolean {
    try {
      this.fd = openSync(this.path, 'r');
    } catch {
      return false;
    }
    this.ino = fstatSync(this.fd).ino;
    this.offset = 0;
    return true;
  }

  /** The whole lines from the offset to the end of the file held. */
  private drain(): LogLine[] {
    const size = fstatSync(this.fd).size;
    if (size <= this.offset) return [];
    const buf = Buffer.alloc(size - this.offset);
    const n = readSync(this.fd, buf, 0, buf.length, this.offset);
    const { lines, used } = wholeLines(buf.subarray(0, n));
    this.offset += used;
    return lines;
  }
}
