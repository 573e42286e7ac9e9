// Small inline-SVG charts: a queue's last hour, a job's attempts over time.

import { clock, duration, s, toDate } from "./dom.js";

// Drawn in these units and scaled to the panel: about a pixel each in a queue's card.
const W = 460;
const H = 150;
const PAD = { left: 30, right: 30, top: 22, bottom: 20 };

// A round top for a scale whose middle line is a whole number too.
function niceMax(value) {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 4, 6, 8, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

// One queue over the last hour: finished per minute as bars (right scale),
// the depth as a line over a shaded area (left scale). ``points`` are
// [{at, finished, depth}], oldest first, one a minute.
export function queueChart(points, label) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const n = Math.max(points.length, 1);
  const slot = plotW / n;
  const depthMax = niceMax(Math.max(0, ...points.map((p) => p.depth || 0)));
  const doneMax = niceMax(Math.max(0, ...points.map((p) => p.finished || 0)));
  const y = (value, max) => PAD.top + plotH - (plotH * value) / max;
  const x = (i) => PAD.left + slot * (i + 0.5);

  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart",
    role: "img",
    "aria-label": `${label}: queue depth and jobs finished per minute over the last hour`,
  });
  // Grid and the two scales.
  for (const frac of [0, 0.5, 1]) {
    const gy = PAD.top + plotH * (1 - frac);
    svg.append(
      s("line", { x1: PAD.left, x2: W - PAD.right, y1: gy, y2: gy, class: "grid" }),
      s("text", { x: PAD.left - 6, y: gy + 4, class: "axis depth", "text-anchor": "end" }, String(Math.round(depthMax * frac))),
      s("text", { x: W - PAD.right + 6, y: gy + 4, class: "axis done", "text-anchor": "start" }, String(Math.round(doneMax * frac))),
    );
  }
  for (const [i, text] of [[0, "−60 min"], [0.25, "−45"], [0.5, "−30"], [0.75, "−15"], [1, "now"]]) {
    svg.append(
      s("text", { x: PAD.left + plotW * i, y: H - 6, class: "axis", "text-anchor": i === 0 ? "start" : i === 1 ? "end" : "middle" }, text),
    );
  }
  // Finished per minute.
  points.forEach((p, i) => {
    const top = y(p.finished || 0, doneMax);
    if (p.finished) {
      svg.append(s("rect", { x: x(i) - slot * 0.35, y: top, width: slot * 0.7, height: PAD.top + plotH - top, class: "bar done" }));
    }
  });
  // Depth: a minute nobody sampled (null) breaks the line instead of reading as 0.
  const base = PAD.top + plotH;
  let run = [];
  const runs = [];
  points.forEach((p, i) => {
    if (p.depth === null || p.depth === undefined) {
      if (run.length) runs.push(run);
      run = [];
    } else run.push([x(i), y(p.depth, depthMax)]);
  });
  if (run.length) runs.push(run);
  for (const r of runs) {
    const line = r.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");
    const first = r[0][0].toFixed(1);
    const last = r[r.length - 1][0].toFixed(1);
    svg.append(
      s("path", { d: `${line}L${last},${base}L${first},${base}Z`, class: "area depth" }),
      // A lone sample is a dot, not an invisible zero-length line.
      r.length === 1 ? s("circle", { cx: r[0][0], cy: r[0][1], r: 2.5, class: "dot depth" }) : s("path", { d: line, class: "line depth" }),
    );
  }
  // A hover target per minute with its numbers.
  points.forEach((p, i) => {
    svg.append(
      s("rect", { x: x(i) - slot / 2, y: PAD.top, width: slot, height: plotH, class: "hover" },
        s("title", {}, `${clock(p.at)}: depth ${p.depth ?? "not sampled"}, finished ${p.finished}`)),
    );
  });
  // Legend.
  svg.append(
    s("rect", { x: PAD.left, y: 6, width: 10, height: 10, class: "legend depth" }),
    s("text", { x: PAD.left + 14, y: 15, class: "axis" }, "depth (left)"),
    s("rect", { x: PAD.left + 100, y: 6, width: 10, height: 10, class: "legend done" }),
    s("text", { x: PAD.left + 114, y: 15, class: "axis" }, "finished / min (right)"),
  );
  return svg;
}

const TW = 1200;

// A job's attempts on one time axis: a row per attempt, coloured by outcome.
export function attemptTimeline(history) {
  const spans = history
    .map((a) => ({ a, start: toDate(a.started_at), end: toDate(a.ended_at) }))
    .filter((r) => r.start);
  if (!spans.length) return null;
  const now = new Date();
  const t0 = Math.min(...spans.map((r) => r.start.getTime()));
  const t1 = Math.max(...spans.map((r) => (r.end || now).getTime()), t0 + 1000);
  const rowH = 26;
  const left = 150;
  const right = 20;
  const height = spans.length * rowH + 30;
  const plotW = TW - left - right;
  const x = (t) => left + (plotW * (t - t0)) / (t1 - t0);
  const svg = s("svg", { viewBox: `0 0 ${TW} ${height}`, class: "chart timeline", role: "img", "aria-label": "attempts over time" });
  const rows = s("g", {});
  spans.forEach(({ a, start, end }, i) => {
    const top = 6 + i * rowH;
    const x0 = x(start.getTime());
    const x1 = Math.max(x((end || now).getTime()), x0 + 6);
    const outcome = a.outcome || (end ? "unknown" : "running");
    rows.append(
      // Numbered in order: a retried job starts again at attempt 1.
      s("text", { x: 6, y: top + 15, class: "axis" }, `${i + 1}. ${a.engine || ""}${a.step ? ` · ${a.step}` : ""}`),
      s("rect", { x: x0, y: top + 3, width: x1 - x0, height: rowH - 8, rx: 3, class: `span ${outcome}` },
        s("title", {}, `attempt ${a.attempt} on ${a.engine || "?"} ${a.worker ? `(${a.worker})` : ""}: ${outcome}, ${clock(a.started_at)} → ${end ? clock(a.ended_at) : "now"}`)),
    );
  });
  // A time axis relative to the first start (its clock time under the first tick).
  const axisY = height - 8;
  for (const frac of [0, 0.25, 0.5, 0.75, 1]) {
    const tx = left + plotW * frac;
    svg.append(
      s("line", { x1: tx, x2: tx, y1: 2, y2: height - 22, class: "grid" }),
      s("text", { x: tx, y: axisY, class: "axis", "text-anchor": frac === 0 ? "start" : frac === 1 ? "end" : "middle" },
        frac === 0 ? clock(new Date(t0).toISOString()) : `+${duration(((t1 - t0) * frac) / 1000)}`),
    );
  }
  svg.append(rows);
  return svg;
}
