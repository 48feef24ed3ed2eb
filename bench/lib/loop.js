/**
 * Interleaved timing: each round runs every contender once (flux, peer, flux, peer…), so a
 * noisy moment of the machine lands on both sides of a pair. A contender that fails its
 * warm-up is dropped with its reason; later failures become missing samples.
 */
import { log } from './proc.js';

/**
 * contenders: [{ name, prepare?(): void (untimed), run(): { ms, code, stderr, rssKb? } }]
 * Returns { [name]: { samples: number[], rssKb: number[], error?: string } }.
 */
export function interleave(contenders, { runs, warmups = 1, label = '' }) {
  const res = {};
  const live = [];
  for (const c of contenders) {
    res[c.name] = { samples: [], rssKb: [] };
    let ok = true;
    for (let i = 0; i < warmups && ok; i++) {
      try {
        c.prepare?.();
        const r = c.run();
        if (r.code !== 0) {
          ok = false;
          res[c.name].error = lastLine(r.stderr || r.stdout) || `exit ${r.code}`;
        }
      } catch (err) {
        ok = false;
        res[c.name].error = lastLine(String(err?.message ?? err));
      }
    }
    if (ok) live.push(c);
    else log(`${label} ${c.name}: cannot run (${res[c.name].error}); going on without it`);
  }
  for (let i = 0; i < runs; i++) {
    for (const c of live) {
      let r;
      try {
        c.prepare?.();
        r = c.run();
      } catch (err) {
        r = { ms: NaN, code: 1, stderr: String(err?.message ?? err) };
      }
      const bad = r.code !== 0;
      res[c.name].samples.push(bad ? NaN : r.ms);
      if (r.rssKb !== undefined) res[c.name].rssKb.push(r.rssKb);
      if (bad) {
        res[c.name].failures = (res[c.name].failures ?? 0) + 1;
        res[c.name].error ??= lastLine(r.stderr || r.stdout) || `exit ${r.code}`;
      }
    }
    if (label) process.stderr.write(`\rbench: ${label} ${i + 1}/${runs}   `);
  }
  if (label) process.stderr.write('\n');
  return res;
}

function lastLine(s) {
  return String(s ?? '').trim().split('\n').filter(Boolean).slice(-1)[0]?.slice(0, 300) ?? '';
}
