/**
 * Where each run's output goes: the results directory, a bounded in-memory copy (for JUnit and
 * for showing the end of a failed run), and `[image] line` prefixed lines.
 */
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { FluxError } from '../errors.js';
import type { Entry, OutputSink } from './types.js';
import { OutputTail } from './output-tail.js';
import { LineSplitter } from './line-splitter.js';

export { LineSplitter };

/** Output kept in memory per stream; more than this is cut in the middle (head and tail kept). */
export const MEMORY_LIMIT = 1 << 20;

export class BoundedBuffer {
  private head: Buffer[] = [];
  private headLen = 0;
  private tail: Buffer[] = [];
  private tailLen = 0;
  private dropped = 0;

  constructor(private readonly limit = MEMORY_LIMIT) {}

  push(chunk: Buffer): void {
    const half = this.limit >> 1;
    if (this.headLen < half) {
      const take = chunk.subarray(0, half - this.headLen);
      this.head.push(take);
      this.headLen += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length === 0) return;
    this.tail.push(chunk);
    this.tailLen += chunk.length;
    while (this.tailLen > half && this.tail.length > 0) {
      const first = this.tail[0]!;
      const over = this.tailLen - half;
      if (first.length <= over) {
        this.tail.shift();
        this.tailLen -= first.length;
        this.dropped += first.length;
      } else {
        this.tail[0] = first.subarray(over);
        this.tailLen -= over;
        this.dropped += over;
      }
    }
  }

  text(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    const tail = Buffer.concat(this.tail).toString('utf8');
    return this.dropped > 0 ? `${head}\n[… ${this.dropped} bytes not kept …]\n${tail}` : head + tail;
  }
}

export interface SinkOptions {
  /** Results directory, created by the caller. */
  resultsDir?: string;
  /** Directory name of each image under resultsDir. */
  dirName?: (entry: Entry) => string;
  /** Keep a bounded copy in memory. */
  keep: boolean;
  /** Prefixed output lines: `[image] line`. */
  prefix?: (entry: Entry, stream: 'stdout' | 'stderr', line: string) => void;
}

export interface CapturedOutput {
  stdout: BoundedBuffer;
  stderr: BoundedBuffer;
}

export class SinkFactory {
  readonly kept = new Map<Entry, CapturedOutput>();

  constructor(private readonly opts: SinkOptions) {}

  create(entry: Entry): OutputSink {
    const { resultsDir, dirName, keep, prefix } = this.opts;
    let files: { dir: string; out: WriteStream; err: WriteStream } | undefined;
    if (resultsDir !== undefined && dirName) {
      const dir = join(resultsDir, dirName(entry));
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw new FluxError('MATRIX_RESULTS', `cannot create the results directory ${dir}: ${(err as Error).message}.`, {
          hint: 'Give --results a directory you can write to.',
        });
      }
      files = { dir, out: createWriteStream(join(dir, 'stdout')), err: createWriteStream(join(dir, 'stderr')) };
      entry.stdoutPath = join(dir, 'stdout');
      entry.stderrPath = join(dir, 'stderr');
    }
    let mem: CapturedOutput | undefined;
    if (keep) {
      mem = { stdout: new BoundedBuffer(), stderr: new BoundedBuffer() };
      this.kept.set(entry, mem);
    }
    const tail = new OutputTail();
    const outLines = prefix ? new LineSplitter((l) => prefix(entry, 'stdout', l)) : undefined;
    const errLines = prefix ? new LineSplitter((l) => prefix(entry, 'stderr', l)) : undefined;
    return {
      stdout(chunk) {
        files?.out.write(chunk);
        mem?.stdout.push(chunk);
        tail.stdout(chunk);
        outLines?.push(chunk);
      },
      stderr(chunk) {
        files?.err.write(chunk);
        mem?.stderr.push(chunk);
        tail.stderr(chunk);
        errLines?.push(chunk);
      },
      async close(exitCode, error) {
        outLines?.end();
        errLines?.end();
        if (error !== undefined) {
          const line = Buffer.from(`flux: ${error}\n`);
          files?.err.write(line);
          mem?.stderr.push(line);
          tail.stderr(line);
        }
        entry.outputTail = tail.lines();
        if (!files) return;
        await Promise.all([endStream(files.out), endStream(files.err)]);
        writeFileSync(join(files.dir, 'exit-code'), exitCode === null ? '' : `${exitCode}\n`);
      },
    };
  }
}

function endStream(s: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.end(() => resolve());
  });
}
