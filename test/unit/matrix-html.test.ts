import { describe, expect, it } from 'vitest';
import { htmlReport, htmlText } from '../../src/matrix/html.js';
import { lineDiff } from '../../src/matrix/line-diff.js';
import { captureOutput } from '../../src/matrix/capture.js';
import { collectImages } from '../../src/matrix/images.js';
import type { Entry } from '../../src/matrix/types.js';

async function ran(ref: string, exitCode: number, stdout: string, stderr = ''): Promise<Entry> {
  const [image] = collectImages([ref]);
  const e: Entry = { image: image!, phase: exitCode === 0 ? 'passed' : 'failed', exitCode, phaseSince: 0, durationMs: 1200, digest: `sha256:${'ab'.repeat(32)}` };
  const sink = captureOutput(e, { stdout: () => undefined, stderr: () => undefined, close: async () => undefined });
  sink.stdout(Buffer.from(stdout));
  sink.stderr(Buffer.from(stderr));
  await sink.close(exitCode);
  return e;
}

const info = { command: 'sh -c x', started: new Date(0), durationMs: 2000 };

describe('line diff', () => {
  it('marks removed and added lines around the common ones', () => {
    expect(lineDiff(['a', 'b', 'c'], ['a', 'x', 'c', 'd'])).toEqual([
      { kind: 'same', line: 'a' },
      { kind: 'removed', line: 'b' },
      { kind: 'added', line: 'x' },
      { kind: 'same', line: 'c' },
      { kind: 'added', line: 'd' },
    ]);
    expect(lineDiff([], [])).toEqual([]);
  });
});

describe('HTML report', () => {
  it('has a row per image, the counts, a section per group and a diff for the smaller groups', async () => {
    const es = [await ran('a', 0, 'v2\nok\n'), await ran('b', 0, 'v1\nok\n'), await ran('c', 0, 'v2\nok\n'), await ran('d', 3, '', 'boom\n')];
    const page = htmlReport(es, info);
    expect(page.match(/<tr class="image"/g)).toHaveLength(4);
    expect(page).toContain('<span class="verdict passed">3</span> passed');
    expect(page).toContain('Group 1: 2 images behave alike: exit 0');
    expect(page).toContain('Group 2: 1 image: exit 0');
    expect(page).toContain('<span class="removed">- v2</span><span class="added">+ v1</span><span class="same">  ok</span>');
    expect(page).toContain('<span class="removed">- v2</span><span class="removed">- ok</span>');
    expect(page).toContain('boom');
  });

  it('escapes whatever an image printed or is named, and loads nothing from anywhere', async () => {
    const es = [await ran('a', 0, '<script>alert(1)</script>\n', '<img src=x onerror=alert(2)>\n'), await ran('b', 0, '"&\'\n')];
    es[1]!.image = { ...es[1]!.image, ref: 'x"><b>' };
    es[1]!.error = '<iframe src="http://example.invalid/">';
    const page = htmlReport(es, { ...info, command: "echo '</title><script>'" });
    expect(page).not.toMatch(/<script|<img|<iframe|<b>/i);
    expect(page).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page).toContain('x&#34;&#62;&#60;b&#62;');
    expect(page).not.toMatch(/\b(src|href)=["']?(https?:|\/\/)/i);
    expect(page).toContain("default-src 'none'");
    expect(htmlText(`<>&"'`)).toBe('&#60;&#62;&#38;&#34;&#39;');
    expect(htmlText('a\u202eb\u009bc\td')).toBe('a\\u{202e}b\\x9bc\td');
  });
});
