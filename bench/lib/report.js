/** The table `npm run bench` prints: one row per figure, flux against its peer, target met or not. */
import { median, pairRatios, summary } from './stats.js';

const ms = (v) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms` : 'n/a');
const mb = (kb) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(1)} MB` : 'n/a');
const bytes = (b) => (Number.isFinite(b) ? `${(b / 1e6).toFixed(2)} MB` : 'n/a');
const x = (s) => (Number.isFinite(s.median) ? `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : 'n/a');

function verdict(value, max) {
  if (!Number.isFinite(value)) return 'n/a';
  return value <= max ? 'yes' : `no (${(value / max).toFixed(2)}× over)`;
}

/** A flux-vs-peer row from two sample series of the same interleaved loop. */
function pairRow(figure, fluxRes, peerRes, peerName, max) {
  if (!fluxRes || !peerRes) return null;
  const r = summary(pairRatios(fluxRes.samples, peerRes.samples));
  const peer = peerRes.error && !peerRes.samples.length ? `${peerName}: ${peerRes.error.slice(0, 40)}` : `${peerName} ${ms(median(peerRes.samples))}`;
  return { figure, flux: ms(median(fluxRes.samples)), peer, ratio: x(r), target: max === undefined ? '' : `≤ ${max}×`, met: max === undefined ? '' : verdict(r.median, max), ratioStats: r };
}

export function buildRows(res) {
  const rows = [];
  const push = (r) => r && rows.push(r);
  const pulls = res.pull?.images ?? {};
  for (const [image, s] of Object.entries(pulls)) {
    if (!s.flux) continue;
    push(pairRow(`cold pull+unpack ${image}`, s.flux, s.podman, 'podman pull', 0.7));
    push(pairRow(`cold pull+unpack ${image}`, s.flux, s.skopeo, 'skopeo copy', 1.2));
  }
  const w = res.warm?.samples;
  if (w) {
    push(pairRow('warm run true, --network none', w['flux none'], w['podman none'], 'podman', 0.3));
    push(pairRow('warm run true, --network none', w['flux none'], w['node -e 0'], 'node -e 0', 2));
    push(pairRow('warm run true, --network none', w['flux none'], w.bwrap, 'bwrap', undefined));
    push(pairRow('warm run true, default network', w['flux default'], w['podman default'], 'podman', 0.3));
    push(pairRow('warm run true, default network', w['flux default'], w['node -e 0'], 'node -e 0', 2));
    const extra = (a, b) => (a && b ? a.samples.map((v, i) => v - b.samples[i]) : []);
    const fx = extra(w['flux default'], w['flux none']);
    const px = extra(w['podman default'], w['podman none']);
    rows.push({ figure: 'network start-up cost (default − none)', flux: ms(median(fx)), peer: `podman ${ms(median(px))}`, ratio: '', target: '', met: '' });
    const rss = summary(res.warm.rssKb ?? []);
    rows.push({ figure: 'peak RSS, warm run', flux: mb(rss.median), peer: '', ratio: '', target: '≤ 80 MB', met: verdict(rss.median / 1024, 80) });
  }
  const d = res.detached;
  if (d?.start) {
    push(pairRow('run -d true until it runs, vs foreground run', d.start['run -d'], d.start.run, 'run', 1.1));
    for (const [n, s] of Object.entries(d.ps ?? {})) rows.push({ figure: `ps with ${n} running`, flux: ms(median(s.samples)), peer: '', ratio: '', target: '', met: '' });
    if (d.exec) rows.push({ figure: 'exec true in a running container', flux: ms(median(d.exec.samples)), peer: '', ratio: '', target: '', met: '' });
    rows.push({ figure: 'RSS of a detached container\'s monitor', flux: mb(median(d.monitorRssKb ?? [])), peer: '', ratio: '', target: '', met: '' });
  }
  const name = Object.keys(pulls).at(-1);
  const big = name && pulls[name];
  if (big?.flux) {
    const peerRss = big.podman?.rssKb?.length ? `podman ${mb(median(big.podman.rssKb))}, skopeo ${mb(median(big.skopeo?.rssKb ?? []))}` : '';
    rows.push({ figure: `peak RSS, pull ${name}`, flux: mb(median(big.flux.rssKb)), peer: peerRss, ratio: '', target: '', met: '' });
  }
  const m = res.matrix;
  if (m?.samples?.matrix) {
    rows.push({ figure: `matrix of ${m.images.length} vs slowest single`, flux: ms(median(m.samples.matrix.samples)), peer: `single ${ms(median(m.slowestSingle))}`, ratio: x(m.ratio), target: '≤ 1.5×', met: verdict(m.ratio.median, 1.5) });
  }
  const st = res.store;
  if (st?.bothBytes) {
    const [a, b] = st.images;
    rows.push({ figure: `store: ${a} + ${b} in one store`, flux: bytes(st.bothBytes), peer: `two stores ${bytes(st.sumAloneBytes)}`, ratio: `${(st.bothBytes / st.sumAloneBytes).toFixed(2)}×`, target: '', met: '' });
    rows.push({ figure: `store: ${a} + ${b} vs manifest sizes`, flux: bytes(st.bothBytes), peer: `layers+configs ${bytes(st.sumManifestBytes)}`, ratio: `${(st.bothBytes / st.sumManifestBytes).toFixed(2)}×`, target: '', met: '' });
  }
  for (const [image, a] of Object.entries(res.assembly ?? {})) {
    if (a.error || !a.mountMs) {
      rows.push({ figure: `rootfs assembly ${image}`, flux: 'n/a', peer: a.error ?? '', ratio: '', target: '< 10 ms', met: 'n/a' });
      continue;
    }
    const t = median(a.totalMs);
    rows.push({ figure: `rootfs assembly ${image} (${a.layers} layer${a.layers > 1 ? 's' : ''})`, flux: ms(t), peer: `mount ${ms(median(a.mountMs))}, umount ${ms(median(a.umountMs))}`, ratio: '', target: '< 10 ms', met: t < 10 ? 'yes' : 'no' });
  }
  const u = res.unpack;
  if (u && !u.error) {
    rows.push({ figure: 'unpack: N dirs each replaced by a file', flux: Object.entries(u).map(([k, v]) => `${k}: ${v.usPerEntry} µs (CPU ${v.cpuUsPerEntry})`).join(', '), peer: '', ratio: '', target: 'flat in N', met: '' });
  }
  const n = res.network;
  if (n && !n.error) {
    rows.push({ figure: 'network attach (module)', flux: `slirp4netns ${ms(n.attachSlirp4netnsMs)}`, peer: n.attachPastaMs !== undefined ? `pasta ${ms(n.attachPastaMs)}` : '', ratio: '', target: '', met: '' });
    const mbps = (v) => (Number.isFinite(v) ? `${v.toFixed(0)} MB/s` : 'n/a');
    rows.push({ figure: 'TCP container→host', flux: `slirp4netns ${mbps(n.tcpSlirp4netnsMBps)}`, peer: n.tcpPastaMBps !== undefined ? `pasta ${mbps(n.tcpPastaMBps)}` : '', ratio: '', target: '', met: '' });
  }
  const un = res.usernet;
  if (un && !un.error) {
    const start = (k) => (un.startMs[k]?.length ? ms(median(un.startMs[k])) : `n/a (${un.startErrors?.[k] ?? 'no sample'})`);
    rows.push({ figure: 'run --rm true on a user network', flux: start('user network'), peer: `default ${start('default')}, none ${start('none')}`, ratio: '', target: '', met: '' });
    rows.push({ figure: 'TCP connect, container→container (user network)', flux: `${un.connectMs.median.toFixed(3)} ms`, peer: `min ${un.connectMs.min.toFixed(3)}, max ${un.connectMs.max.toFixed(3)}, n ${un.connectMs.n}`, ratio: '', target: '', met: '' });
    rows.push({ figure: 'TCP throughput, container→container (user network)', flux: `${un.throughputMBps.median.toFixed(0)} MB/s`, peer: `min ${un.throughputMBps.min.toFixed(0)}, max ${un.throughputMBps.max.toFixed(0)}, ${un.mb} MiB × ${un.throughputMBps.n}`, ratio: '', target: '', met: '' });
  }
  for (const [name, s] of Object.entries(res)) if (s?.error) rows.push({ figure: `${name} (failed)`, flux: s.error.slice(0, 60), peer: '', ratio: '', target: '', met: '' });
  return rows;
}

export function formatTable(rows) {
  const cols = [['figure', 'figure'], ['flux', 'flux (median)'], ['peer', 'peer (median)'], ['ratio', 'flux/peer, pair by pair (min–max)'], ['target', 'target'], ['met', 'met?']];
  const width = cols.map(([k, h]) => Math.max(h.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(width[i])).join(' | ')} |`;
  return [line(cols.map(([, h]) => h)), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map((r) => line(cols.map(([k]) => r[k])))].join('\n');
}
