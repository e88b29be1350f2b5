/**
 * A small SVG chart writer for the benchmark's plots (no dependencies): line charts over a
 * log2 x axis (concurrency) and horizontal bar charts, with axes, ticks and a legend.
 */
const W = 640;
const H = 360;
const M = { left: 70, right: 170, top: 40, bottom: 50 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toPrecision(2));

/** Round "nice" tick values covering [min, max] (min defaults to 0, the axis origin). */
function ticks(max, count = 5, min = 0) {
  const raw = (max - min) / count;
  const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw);
  const first = Math.floor(min / step);
  // Built from integer multiples so ticks like 0.6 print without float noise.
  return Array.from({ length: Math.ceil(max / step) - first + 1 }, (_, i) => Number(((first + i) * step).toPrecision(12)));
}

function frame(title, yLabel, xLabel, body) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.right / 2 + M.left / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function legend(names, colors = []) {
  return names.flatMap((name, i) => {
    const y = M.top + 10 + i * 18;
    return [
      `<rect x="${W - M.right + 12}" y="${y - 8}" width="12" height="10" fill="${colors[i] ?? COLORS[i % COLORS.length]}"/>`,
      `<text x="${W - M.right + 30}" y="${y + 1}">${esc(name)}</text>`,
    ];
  });
}

/**
 * Line chart: `series` = [{name, points: [[x, y], ...], dash?, color?}], x on a log2 axis (or
 * linear with `linearX`, ticked at `xTicks`). `hlines` = [{name, y}] draws dashed reference
 * lines. A point [x, y, lo, hi] also draws an error bar from lo to hi. `zoomY`: the y axis
 * spans the data (with a margin) instead of starting at 0, for small differences.
 */
export function lineChart({ title, xLabel, yLabel, series, hlines = [], linearX = false, xTicks, zoomY = false }) {
  const xs = series.flatMap((s) => s.points.map(([x]) => x));
  const ys = [...series.flatMap((s) => s.points.flatMap(([, ...y]) => y)), ...hlines.map((h) => h.y)];
  const scaleX = linearX ? (x) => x : Math.log2;
  const [x0, x1] = [scaleX(Math.min(...xs)), scaleX(Math.max(...xs))];
  const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
  const yTicks = zoomY ? ticks(hi + (hi - lo) * 0.05, 6, lo - (hi - lo) * 0.05) : ticks(Math.max(...ys) * 1.05);
  const yMin = zoomY ? yTicks[0] : 0;
  const yMax = yTicks.at(-1);
  const px = (x) => M.left + ((scaleX(x) - x0) / (x1 - x0 || 1)) * (W - M.left - M.right);
  const py = (y) => H - M.bottom - ((y - yMin) / (yMax - yMin)) * (H - M.top - M.bottom);
  const body = [
    ...yTicks.map((y) => `<line x1="${M.left}" x2="${W - M.right}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/><text x="${M.left - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(y)}</text>`),
    ...(xTicks ?? [...new Set(xs)]).map((x) => `<text x="${px(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${x}</text>`),
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="black"/>`,
    `<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="black"/>`,
    ...hlines.map((h, i) => {
      const color = COLORS[(series.length + i) % COLORS.length];
      return `<line x1="${M.left}" x2="${W - M.right}" y1="${py(h.y)}" y2="${py(h.y)}" stroke="${color}" stroke-dasharray="6 4"/>`;
    }),
    ...series.flatMap((s, i) => {
      const color = s.color ?? COLORS[i % COLORS.length];
      const pts = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
      const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
      return [
        `<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.join(' ')}"/>`,
        ...s.points.filter((p) => p.length === 4).map(([x, , l, h]) => `<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${py(l).toFixed(1)}" y2="${py(h).toFixed(1)}" stroke="${color}"/>`),
        ...s.points.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"><title>${esc(`${s.name}: ${x} -> ${fmt(y)}`)}</title></circle>`),
      ];
    }),
    ...legend([...series.map((s) => s.name), ...hlines.map((h) => h.name)], series.map((s) => s.color)),
  ];
  return frame(title, yLabel, xLabel, body);
}

/** Horizontal bar chart: `bars` = [{name, value}], each value printed at the bar's end. */
export function barChart({ title, xLabel, bars }) {
  const xTicks = ticks(Math.max(...bars.map((b) => b.value)) * 1.1);
  const xMax = xTicks.at(-1);
  const left = 190;
  const right = W - 40;
  const band = (H - M.top - M.bottom) / bars.length;
  const px = (v) => left + (v / xMax) * (right - left);
  const body = [
    ...xTicks.map((x) => `<line x1="${px(x)}" x2="${px(x)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#ddd"/><text x="${px(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(x)}</text>`),
    ...bars.flatMap((b, i) => {
      const y = M.top + i * band + band * 0.15;
      return [
        `<rect x="${left}" y="${y.toFixed(1)}" width="${(px(b.value) - left).toFixed(1)}" height="${(band * 0.7).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"/>`,
        `<text x="${left - 6}" y="${(y + band * 0.4).toFixed(1)}" text-anchor="end">${esc(b.name)}</text>`,
        `<text x="${(px(b.value) + 4).toFixed(1)}" y="${(y + band * 0.4).toFixed(1)}">${fmt(b.value)}</text>`,
      ];
    }),
    `<line x1="${left}" x2="${left}" y1="${M.top}" y2="${H - M.bottom}" stroke="black"/>`,
  ];
  return frame(title, '', xLabel, body);
}
