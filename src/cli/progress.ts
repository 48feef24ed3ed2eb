/**
 * Pull progress for people, on stderr: a cli-progress bar per blob (bytes, speed) on a terminal,
 * one line per finished blob otherwise, nothing with --quiet. Notices (such as falling back to
 * the stored image) are printed even when quiet: they change what the user gets.
 */
import type { Descriptor } from '../library/api-types.js';
import type { PullEvents } from '../library/api-types.js';
import { humanSize } from '../format.js';
import { escapeText } from '../escape.js';

function short(d: string): string {
  return `${d.slice(0, 19)}…`;
}

export interface PullProgress {
  events: PullEvents;
  /** Stops bars; call once whatever happened. */
  stop(): void;
}

export interface ProgressOptions {
  quiet?: boolean;
  /** Default: whether stderr is a terminal. */
  tty?: boolean;
  write?: (line: string) => void;
}

export async function createPullProgress(opts: ProgressOptions = {}): Promise<PullProgress> {
  const write = opts.write ?? ((s: string) => void process.stderr.write(s));
  const notice = (m: string): void => write(`flux: ${escapeText(m)}\n`);
  if (opts.quiet) return { events: { notice }, stop() {} };
  const tty = opts.tty ?? process.stderr.isTTY === true;
  if (!tty) {
    return {
      events: {
        notice,
        blobDone(desc: Descriptor, _what, r) {
          write(r.existed ? `${short(desc.digest)} ${humanSize(desc.size)} already in the store\n` : `${short(desc.digest)} ${humanSize(desc.size)} done\n`);
        },
        phase(name) {
          if (name === 'unpacking') write('unpacking layers\n');
        },
      },
      stop() {},
    };
  }

  // Only a terminal gets bars: the package is loaded here (progress-bars.ts says why).
  const { cliProgress } = await import('./progress-bars.js');
  const multi = new cliProgress.MultiBar({
    stream: process.stderr,
    format: '{name} [{bar}] {size} {speed}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    autopadding: true,
    formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? humanSize(v) : String(v)),
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, { bar: ReturnType<typeof multi.create>; done: number; start: number }>();
  const payload = (done: number, total: number, start: number): Record<string, string> => {
    const secs = (Date.now() - start) / 1000;
    return { size: `${humanSize(done)}/${humanSize(total)}`, speed: secs > 0.2 ? `${humanSize(Math.round(done / secs))}/s` : '' };
  };
  const barFor = (desc: Descriptor): { bar: ReturnType<typeof multi.create>; done: number; start: number } => {
    let b = bars.get(desc.digest);
    if (!b) {
      const start = Date.now();
      b = { bar: multi.create(desc.size, 0, { name: short(desc.digest), ...payload(0, desc.size, start) }), done: 0, start };
      bars.set(desc.digest, b);
    }
    return b;
  };
  return {
    events: {
      notice: (m) => multi.log(`flux: ${m}\n`),
      blobStart: (desc) => void barFor(desc),
      blobResume(desc, n) {
        const b = barFor(desc);
        b.done = n;
        b.bar.update(n, payload(n, desc.size, b.start));
      },
      blobData(desc, n) {
        const b = barFor(desc);
        b.done += n;
        b.bar.update(b.done, payload(b.done, desc.size, b.start));
      },
      blobDone(desc, _what, r) {
        const b = barFor(desc);
        b.bar.update(desc.size, { ...payload(desc.size, desc.size, b.start), speed: r.existed ? 'already in the store' : payload(desc.size, desc.size, b.start).speed });
      },
      phase(name) {
        if (name === 'unpacking') multi.log('unpacking layers\n');
      },
    },
    stop: () => multi.stop(),
  };
}
