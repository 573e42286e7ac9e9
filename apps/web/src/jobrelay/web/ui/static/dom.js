// Building the page: elements from data (never HTML strings), and formatting.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.setAttribute("class", value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// h("a", {href: "#/"}, "text", child...) -> an HTML element.
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s("rect", {x: 1}) -> an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(node, ...children) {
  node.replaceChildren();
  build(node, {}, children);
}

export const STATES = ["queued", "running", "sleeping", "succeeded", "failed", "cancelled", "dead"];
export const ACTIVE = new Set(["queued", "running", "sleeping"]);
export const RETRYABLE = new Set(["failed", "dead", "cancelled"]);

// Dispatch priorities: 1 is taken first, 5 last (README, Flow control).
const PRIORITY_NAMES = { 1: "high", 2: "above normal", 3: "normal", 4: "below normal", 5: "low" };

export function priorityName(value) {
  return PRIORITY_NAMES[value] || `priority ${value}`;
}

// "100/m" -> "100 starts a minute" (the limit counts starts, not runs).
export function rateText(limit) {
  const match = /^(\d+)\s*\/\s*([smh])$/.exec(limit || "");
  if (!match) return limit || "—";
  return `${number(match[1])} starts a ${{ s: "second", m: "minute", h: "hour" }[match[2]]}`;
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || text || "none"}` }, text || "—");
}

// Times come as ISO strings (jobs) or epoch seconds (workers, dead letters).
export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function pad(n) {
  return String(n).padStart(2, "0");
}

export function clock(value) {
  const d = toDate(value);
  if (!d) return "—";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export function ago(value) {
  const d = toDate(value);
  if (!d) return "—";
  const seconds = (Date.now() - d.getTime()) / 1000;
  return seconds < 0 ? "just now" : `${duration(seconds)} ago`;
}

// A time as "5 s ago", with the full time on hover.
export function when(value) {
  return h("time", { title: clock(value), datetime: toDate(value)?.toISOString() }, ago(value));
}

export function json(value, limit = 4000) {
  const text = value === undefined ? "" : JSON.stringify(value, null, 2);
  return text.length > limit ? `${text.slice(0, limit)}\n… (${text.length - limit} more characters)` : text;
}

export function number(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString("en");
}

export function percent(part, whole) {
  if (!whole) return "—";
  const share = (100 * part) / whole;
  return `${share < 10 && share > 0 ? share.toFixed(1) : Math.round(share)}%`;
}

export function table(headers, rows, attrs) {
  return h(
    "table",
    attrs,
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows),
  );
}

export function empty(colspan, text) {
  return h("tr", {}, h("td", { colspan, class: "muted empty" }, text));
}

// A transient message under the header (what an action did, or why it failed).
export function flash(text, kind = "info") {
  const box = document.getElementById("flash");
  replace(box, h("p", { class: `flash ${kind}` }, text, h("button", { class: "link", onclick: () => box.replaceChildren(), "aria-label": "dismiss" }, "×")));
}

export function notice(text) {
  return h("p", { class: "notice" }, text);
}
