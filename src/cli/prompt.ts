/**
 * Reading a password for `flux login`: from stdin, or at the terminal with echo off. Its own
 * module so that node:readline loads only for a login.
 */
import { createInterface } from 'node:readline';
import { FluxError } from '../errors.js';

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  // docker strips the trailing newline an `echo` adds, and only that.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads a line from the terminal; `hidden` turns echo off for passwords. */
export async function prompt(question: string, hidden: boolean): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    const write = (rl as unknown as { _writeToOutput: (s: string) => void });
    write._writeToOutput = (s: string) => { if (s.startsWith(question)) process.stderr.write(question); else if (/[\r\n]/.test(s)) process.stderr.write('\n'); };
  }
  try {
    return await new Promise<string>((resolve, reject) => {
      rl.question(question, resolve);
      rl.once('close', () => reject(new FluxError('BAD_LOGIN', 'login cancelled.', { exitCode: 125 })));
    });
  } finally {
    rl.close();
  }
}
