/** Splits a byte stream into lines; the last partial line is given at `end()`. */
export class LineSplitter {
  private rest = '';
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const l of lines) this.onLine(l.endsWith('\r') ? l.slice(0, -1) : l);
  }

  end(): void {
    const last = this.rest + this.decoder.decode();
    this.rest = '';
    if (last !== '') this.onLine(last);
  }
}
