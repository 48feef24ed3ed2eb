/**
 * Splits a byte stream into lines; the last partial line is given at `end()`. A line longer than
 * MAX_LINE is given in pieces of that size: a command that prints without newlines (hostile or
 * just binary) costs bounded memory, and each chunk is joined with at most one piece.
 */
export const MAX_LINE = 64 * 1024;

export class LineSplitter {
  private rest = '';
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    let rest = lines.pop() ?? '';
    for (const l of lines) this.onLine(l.endsWith('\r') ? l.slice(0, -1) : l);
    while (rest.length > MAX_LINE) {
      this.onLine(rest.slice(0, MAX_LINE));
      rest = rest.slice(MAX_LINE);
    }
    this.rest = rest;
  }

  end(): void {
    const last = this.rest + this.decoder.decode();
    this.rest = '';
    if (last !== '') this.onLine(last);
  }
}
