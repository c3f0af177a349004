// Charts on uPlot (small, canvas, fast with thousands of points), and plain CSS bars for counts.
import { html } from "htm/preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

/**
 * A chart over time. `x`: seconds since the epoch, ascending; `series`: [{ label, values }] of the
 * same length (null where a series has no point). `bars` draws columns (counts per bucket).
 * `stepped` holds each value until the next (a pool's target between scaling decisions).
 * The box carries `data-points` (how many x values it plots) so a test can tell a drawn chart from an empty one.
 */
export function TimeChart({ title, x, series, height = 220, bars = false, stepped = false, testId, padSec = 60 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const shape = `${title}|${bars}|${stepped}|${series.map((s) => s.label).join(",")}`;
  useEffect(() => {
    const width = Math.max(320, (box.current?.clientWidth ?? 640) - 8);
    const options = {
      title,
      width,
      height,
      // One point alone makes uPlot span a day (1,000 days for time in seconds) around it: keep a window of padSec.
      scales: { x: { time: true, range: (u, min, max) => padded(u.data[0], min, max, padSec) } },
      // The y axis as wide as its longest label ("100,000" does not fit uPlot's default 50 px).
      axes: [{}, { size: (_u, values) => (values == null ? 50 : Math.max(40, ...values.map((v) => String(v).length * 8 + 18))) }],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: true,
          ...(stepped ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
          ...(bars ? { fill: `${COLORS[i % COLORS.length]}55`, paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } } : {}),
        })),
      ],
    };
    plot.current = new uPlot(options, [x, ...series.map((s) => s.values)], box.current);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)]);
  }, [x, series]);
  return html`<div class="chart" ref=${box} data-testid=${testId} data-points=${x.length}></div>`;
}

/** The x range: the data's, widened to at least ±padSec around a single point or a short span. */
function padded(xs, min, max, padSec) {
  if (!xs || xs.length === 0) {
    const now = Date.now() / 1000;
    return [now - padSec, now + padSec];
  }
  const first = xs[0];
  const last = xs[xs.length - 1];
  return last - first < padSec ? [first - padSec, last + padSec] : [min, max];
}

/** Counts as horizontal bars, largest first (at most `limit` rows; the rest summed). */
export function Bars({ title, counts, limit = 12, extra, testId }) {
  const rows = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]);
  const shown = rows.slice(0, limit);
  const rest = rows.slice(limit).reduce((sum, [, n]) => sum + n, 0) + (extra ?? 0);
  // Scaled to the largest row, whatever its unit (counts, or credits well below 1).
  const max = Math.max(0, ...shown.map(([, n]) => n), rest) || 1;
  return html`<section class="panel bars" data-testid=${testId}>
    <h3>${title}</h3>
    ${shown.length === 0 && rest === 0 ? html`<p class="muted">none</p>` : null}
    ${shown.map(
      ([name, n]) => html`<div class="bar-row" title=${`${name || "(none)"}: ${n}`}>
        <span class="bar-label">${name || html`<i>none</i>`}</span>
        <span class="bar"><span style=${{ width: `${(100 * n) / max}%` }}></span></span>
        <span class="bar-value">${n.toLocaleString()}</span>
      </div>`,
    )}
    ${rest > 0 ? html`<div class="bar-row"><span class="bar-label"><i>others</i></span><span class="bar"><span style=${{ width: `${(100 * rest) / max}%` }}></span></span><span class="bar-value">${rest.toLocaleString()}</span></div>` : null}
  </section>`;
}

/** Events bucketed per `bucketSec` over the last `spanSec`: x and one count series per label. */
export function bucketize(items, labelOf, bucketSec = 60, spanSec = 3600, now = Date.now() / 1000) {
  const start = Math.floor((now - spanSec) / bucketSec) * bucketSec;
  const x = [];
  for (let t = start; t <= now; t += bucketSec) x.push(t);
  const labels = [...new Set(items.map(labelOf))].sort();
  const series = labels.map((label) => ({ label, values: x.map(() => 0) }));
  for (const item of items) {
    const t = Date.parse(item.at) / 1000;
    if (t < start) continue;
    const i = Math.min(x.length - 1, Math.floor((t - start) / bucketSec));
    series[labels.indexOf(labelOf(item))].values[i]++;
  }
  return { x, series };
}
