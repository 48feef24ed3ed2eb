/**
 * Progress on stderr while a matrix runs. On a terminal: one line per image (pulling, running,
 * passed, failed, with the elapsed time), redrawn in place. Otherwise: one line per change of
 * state, so CI logs read top to bottom.
 */
import { escapeText } from '../escape.js';
import { formatDuration } from './format.js';
import type { Entry } from './types.js';

export interface StatusDisplay {
  change(e: Entry): void;
  /** Writes text (whole lines) without tearing the live lines. */
  write(stream: NodeJS.WriteStream, text: string): void;
  finish(): void;
}

export interface StatusOptions {
  entries: readonly Entry[];
  stderr: NodeJS.WriteStream;
  live: boolean;
  colour: boolean;
  quiet?: boolean;
  now?: () => number;
}

export function createStatus(opts: StatusOptions): StatusDisplay {
  if (opts.quiet) return { change() {}, write: (s, t) => void s.write(t), finish() {} };
  return opts.live ? new LiveStatus(opts) : new LineStatus(opts);
}

const COLOURS: Partial<Record<Entry['phase'], string>> = { passed: '32', failed: '31', skipped: '33', interrupted: '33', pulling: '36', running: '36' };

function paint(on: boolean, phase: Entry['phase'], s: string): string {
  const c = COLOURS[phase];
  return on && c ? `\u001b[${c}m${s}\u001b[0m` : s;
}

function elapsed(e: Entry, now: number): string {
  switch (e.phase) {
    case 'pulling':
    case 'running':
      return formatDuration(now - e.phaseSince);
    case 'passed':
    case 'failed':
    case 'interrupted':
      if (e.note !== undefined) return e.note;
      return e.exitCode === null ? '' : `${formatDuration(e.durationMs)}, exit ${e.exitCode}`;
    default:
      return '';
  }
}

class LineStatus implements StatusDisplay {
  constructor(private readonly opts: StatusOptions) {}

  change(e: Entry): void {
    if (e.phase === 'queued' || e.phase === 'waiting') return;
    const now = (this.opts.now ?? Date.now)();
    // The error itself is shown once, with the failed runs' output at the end.
    const detail = e.note ?? (e.phase === 'passed' || e.phase === 'failed' || e.phase === 'interrupted' ? elapsed(e, now) : '');
    this.opts.stderr.write(`[${escapeText(e.image.ref)}] ${e.phase}${escapeText(detail ? ` (${detail})` : '')}\n`);
  }

  write(stream: NodeJS.WriteStream, text: string): void {
    stream.write(text);
  }

  finish(): void {}
}

class LiveStatus implements StatusDisplay {
  private drawn = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly width: number;

  constructor(private readonly opts: StatusOptions) {
    this.width = Math.max(...opts.entries.map((e) => e.image.ref.length), 5);
    this.timer = setInterval(() => this.redraw(), 200);
    this.timer.unref();
    this.redraw();
  }

  change(): void {
    this.redraw();
  }

  write(stream: NodeJS.WriteStream, text: string): void {
    // Output to the same terminal would land inside the live block: lift the block, write, redraw.
    const sameTerminal = stream === this.opts.stderr || stream.isTTY;
    if (sameTerminal) this.erase();
    stream.write(text);
    if (sameTerminal) this.redraw();
  }

  finish(): void {
    clearInterval(this.timer);
    this.redraw();
  }

  private lines(): string[] {
    const now = (this.opts.now ?? Date.now)();
    const rows = Math.max(3, (this.opts.stderr.rows || 24) - 2);
    const cols = this.opts.stderr.columns || 80;
    let shown: readonly Entry[] = this.opts.entries;
    const hidden = shown.length > rows;
    if (hidden) shown = this.opts.entries.filter((e) => e.phase === 'pulling' || e.phase === 'running' || e.phase === 'failed').slice(0, rows - 1);
    const out = shown.map((e) => {
      const phase = e.phase === 'waiting' ? 'queued' : e.phase;
      const t = elapsed(e, now);
      const room = Math.max(8, cols - 1 - 10 - t.length - 2);
      const ref = escapeText(e.image.ref);
      const name = ref.length > room ? `${ref.slice(0, room - 1)}…` : ref.padEnd(Math.min(this.width, room));
      return `${name}  ${paint(this.opts.colour, e.phase, phase.padEnd(8))} ${t}`;
    });
    if (hidden) {
      const c: Record<string, number> = {};
      for (const e of this.opts.entries) c[e.phase] = (c[e.phase] ?? 0) + 1;
      out.push(Object.entries(c).map(([k, v]) => `${v} ${k}`).join(', '));
    }
    return out;
  }

  private erase(): void {
    if (this.drawn > 0) this.opts.stderr.write(`\u001b[${this.drawn}F\u001b[J`);
    this.drawn = 0;
  }

  private redraw(): void {
    const lines = this.lines();
    const up = this.drawn > 0 ? `\u001b[${this.drawn}F` : '';
    this.opts.stderr.write(`${up}${lines.map((l) => `${l}\u001b[K\n`).join('')}\u001b[J`);
    this.drawn = lines.length;
  }
}
