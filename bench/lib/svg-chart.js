/**
 * A small line chart as SVG text: one line per series over the same x points, the x points
 * evenly spaced (they grow by factors: 1, 16, 64, 128), the y axis linear from 0 with round
 * ticks. Plain SVG 1.1 with no script or external font, so it renders on GitHub as an image.
 */

const W = 640;
const H = 360;
const PAD = { left: 72, right: 150, top: 44, bottom: 56 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round step giving about five ticks up to max. */
function tickStep(max) {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
}

function fmt(v) {
  if (v >= 1000) return `${Number((v / 1000).toFixed(1))}k`;
  return String(Number(v.toPrecision(3)));
}

/**
 * { title, xLabel, yLabel, xs: [label…], series: [{ name, values: [number|NaN…] }] } → SVG text.
 * A missing value (NaN) breaks its line there.
 */
export function lineChart({ title, xLabel, yLabel, xs, series }) {
  const finite = series.flatMap((s) => s.values).filter(Number.isFinite);
  const top = finite.length ? Math.max(...finite) : 1;
  const step = tickStep(top > 0 ? top : 1);
  const yMax = Math.ceil((top * 1.05) / step) * step || step;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const px = (i) => PAD.left + (xs.length === 1 ? plotW / 2 : (i * plotW) / (xs.length - 1));
  const py = (v) => PAD.top + plotH - (v / yMax) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2 - PAD.right / 2 + PAD.left / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const y = py(v).toFixed(1);
    parts.push(`<line x1="${PAD.left}" y1="${y}" x2="${PAD.left + plotW}" y2="${y}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${PAD.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`);
  }
  parts.push(`<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${PAD.left + plotW}" y2="${PAD.top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#333"/>`);
  xs.forEach((x, i) => {
    parts.push(`<line x1="${px(i).toFixed(1)}" y1="${PAD.top + plotH}" x2="${px(i).toFixed(1)}" y2="${PAD.top + plotH + 5}" stroke="#333"/>`);
    parts.push(`<text x="${px(i).toFixed(1)}" y="${PAD.top + plotH + 20}" text-anchor="middle">${esc(x)}</text>`);
  });
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(18 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, k) => {
    const color = s.color ?? COLORS[k % COLORS.length];
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${px(i).toFixed(1)} ${py(v).toFixed(1)} `;
      pen = true;
    });
    if (d) parts.push(`<path d="${d.trim()}" fill="none" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    s.values.forEach((v, i) => {
      if (Number.isFinite(v)) parts.push(`<circle cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="4" fill="${color}"><title>${esc(`${s.name}, ${xs[i]}: ${fmt(v)}`)}</title></circle>`);
    });
    const ly = PAD.top + 10 + k * 22;
    parts.push(`<line x1="${W - PAD.right + 16}" y1="${ly}" x2="${W - PAD.right + 40}" y2="${ly}" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${W - PAD.right + 46}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
