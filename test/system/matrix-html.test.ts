/**
 * `flux matrix --html`: a real matrix run over the oci: fixtures writes the page, and Debian's
 * chromium (headless) loads it: the rows, the groups by outcome and the diff are checked in the
 * DOM the browser built (so escaping is judged by a real HTML parser), and a screenshot is kept
 * in test-results/. Output that differs: distro-alt sets GREETING, the busybox images do not.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userFixtureDir } from '../helpers/fixtures.js';
import { REPO_ROOT, removeStore, runFlux, tempStore, userWorkDir } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

const ready = requireTool('newuidmap') && requireTool('skopeo') && requireTool('chromium', undefined, 'apt-get install chromium');

// Hostile output: were it not escaped, the browser would build these elements.
const SCRIPT = 'echo start; echo "greeting: $GREETING"; echo "<script>document.title=1</script><img src=x>"; echo end';

async function chromium(args: string[], profile: string): Promise<string> {
  const base = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`];
  const { stdout } = await promisify(execFile)('chromium', [...base, ...args], { timeout: 180_000, maxBuffer: 32 << 20 });
  return stdout;
}

describe.skipIf(!ready)('matrix --html in a browser', () => {
  let store: string;
  let work: string;
  let profile: string;
  const refs: string[] = [];

  beforeAll(async () => {
    for (const f of ['busybox', 'busybox-zstd', 'multilayer', 'distro-alt'] as const) refs.push(`oci:${await userFixtureDir(f)}`);
    store = await tempStore();
    work = await userWorkDir('flux-matrix-html-');
    profile = await mkdtemp(join(tmpdir(), 'flux-chromium-'));
  }, 600_000);

  afterAll(async () => {
    if (store) await removeStore(store);
    if (work) await rm(work, { recursive: true, force: true });
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('shows a row per image, the groups by outcome and the diff against the largest group', async () => {
    const page = join(work, 'report.html');
    // An image that cannot be pulled never runs: a red row and a group of its own.
    const missing = `oci:${join(work, 'no-such-layout')}`;
    const r = await runFlux(['matrix', '--network', 'none', '--html', page, ...refs, missing, '--', 'sh', '-c', SCRIPT], { store, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(1);
    // The terminal says the same as the page: two outcomes, distro-alt the odd one out.
    expect(r.stdout).toContain('3 outcomes:');
    expect(r.stdout).toContain(`group 1: 3 images behave alike: exit 0: ${refs.slice(0, 3).join(', ')}`);
    expect(r.stdout).toContain(`group 2: 1 image: exit 0, different stdout: ${refs[3]}`);
    expect(r.stdout).toContain('stdout differs at line 2: "greeting: hello from distro-alt" (group 1: "greeting: ")');

    const html = await readFile(page, 'utf8');
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:|\/\/)/i);

    const dom = await chromium(['--dump-dom', `file://${page}`], profile);
    const rows = [...dom.matchAll(/<tr class="image" data-verdict="(\w+)" data-group="(\d+)">/g)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual([['passed', '1'], ['passed', '1'], ['passed', '1'], ['passed', '2'], ['failed', '3']]);
    for (const ref of refs) expect(dom).toContain(`<code>${ref}</code>`);
    expect(dom).toContain('<span class="verdict passed">4</span> passed');
    expect(dom).toContain('<span class="verdict failed">1</span> failed');
    expect(dom).toMatch(/<section class="group" id="group-3" data-group="3" data-size="1"><h3>Group 3: 1 image: not run<\/h3>/);
    expect(dom).toMatch(/<section class="group" id="group-1" data-group="1" data-size="3"><h3>Group 1: 3 images behave alike: exit 0<\/h3>/);
    expect(dom).toMatch(/<section class="group" id="group-2" data-group="2" data-size="1"><h3>Group 2: 1 image: exit 0<\/h3>/);
    const diff = /<pre class="diff">(.*?)<\/pre>/s.exec(dom)?.[1] ?? '';
    expect(diff).toContain('<span class="same">  start</span><span class="removed">- greeting: </span><span class="added">+ greeting: hello from distro-alt</span>');
    // The image's markup stayed text: no element was made of it, and the title is flux's.
    expect(dom).not.toMatch(/<script|<img/i);
    expect(dom).toContain('&lt;script&gt;document.title=1&lt;/script&gt;&lt;img src=x&gt;');
    expect(dom).toMatch(/<title>flux matrix: sh -c /);

    const out = join(REPO_ROOT, 'test-results');
    await mkdir(out, { recursive: true });
    const shot = join(out, 'matrix-html.png');
    await rm(shot, { force: true });
    await chromium(['--hide-scrollbars', '--window-size=1280,1400', `--screenshot=${shot}`, `file://${page}`], profile);
    expect((await stat(shot)).size).toBeGreaterThan(10_000);
    expect((await readFile(shot)).subarray(0, 8).toString('latin1')).toBe('\x89PNG\r\n\x1a\n');
  }, 600_000);
});
