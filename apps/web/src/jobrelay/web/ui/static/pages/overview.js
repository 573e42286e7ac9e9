// Overview: engines and the breaker, workers per engine, the fallback share,
// and each queue's last hour with pause / resume.

import { api, optional } from "../api.js";
import { queueChart } from "../chart.js";
import { ago, badge, duration, empty, flash, h, number, percent, priorityName, rateText, STATES, table, when } from "../dom.js";

const REASONS = {
  ok: "on Dramatiq",
  flag_off: "USE_DRAMATIQ off",
  redis_unavailable: "Redis unavailable",
  no_live_worker: "no live worker",
  enqueue_failed: "enqueue failed",
  pickup_timeout: "pickup timed out",
};

function uniqueWorkers(byQueue) {
  const seen = new Map();
  for (const workers of Object.values(byQueue || {})) {
    for (const w of workers) seen.set(w.worker_id, w);
  }
  return [...seen.values()].sort((a, b) => (a.engine + a.host + a.pid).localeCompare(b.engine + b.host + b.pid));
}

function workersPerEngine(summary, workers) {
  if (summary && summary.workers) return summary.workers;
  const counts = { dramatiq: 0, temporal: 0 };
  for (const w of workers) counts[w.engine] = (counts[w.engine] || 0) + 1;
  return counts;
}

function row(label, value) {
  return h("div", { class: "kv" }, h("span", { class: "k" }, label), h("span", { class: "v" }, value));
}

function engineCards(ready, perEngine) {
  const d = ready.dramatiq || {};
  const t = ready.temporal || {};
  return [
    h("section", { class: "card", "data-engine": "dramatiq" },
      h("h3", {}, "Dramatiq ", badge(d.ready ? "ready" : "not ready", d.ready ? "up" : "down")),
      row("Redis", badge(d.redis, d.redis === "up" ? "up" : "down")),
      row("Breaker", badge(d.breaker, d.breaker === "closed" ? "up" : d.breaker === "open" ? "down" : "warn")),
      row("USE_DRAMATIQ", d.use_dramatiq ? "on" : "off"),
      row("Live workers", number(perEngine.dramatiq || 0)),
    ),
    h("section", { class: "card", "data-engine": "temporal" },
      h("h3", {}, "Temporal ", badge(t.ready ? "ready" : "not ready", t.ready ? "up" : "down")),
      row("Server", t.ready ? "answers" : "does not answer"),
      row("Live workers", number(perEngine.temporal || 0)),
    ),
  ];
}

function fallbackCard(summary) {
  const card = h("section", { class: "card wide", id: "fallback" }, h("h3", {}, "Fallback to Temporal, last hour"));
  const reasons = summary && summary.dispatch_reasons;
  if (!reasons) {
    card.append(h("p", { class: "muted" }, "This server does not report dispatch reasons (GET /summary)."));
    return card;
  }
  const total = Object.values(reasons).reduce((a, b) => a + b, 0);
  const fell = total - (reasons.ok || 0);
  card.append(
    h("p", { class: "big" }, percent(fell, total), h("small", {}, ` of ${number(total)} dispatches fell back`)),
  );
  if (!total) return card;
  const bar = h("div", { class: "stack", role: "img", "aria-label": "dispatches by reason" });
  const legend = h("ul", { class: "legend" });
  for (const [reason, count] of Object.entries(reasons).sort((a, b) => b[1] - a[1])) {
    if (!count) continue;
    const seg = h("span", { class: `seg reason-${reason}`, title: `${REASONS[reason] || reason}: ${count}` });
    // A width from data: CSSOM, which the page's CSP allows (a style="" attribute it would not).
    seg.style.width = `${(100 * count) / total}%`;
    bar.append(seg);
    legend.append(h("li", {}, h("span", { class: `dot reason-${reason}` }), `${REASONS[reason] || reason}: ${number(count)} (${percent(count, total)})`));
  }
  card.append(bar, legend);
  return card;
}

function statesCard(summary) {
  const card = h("section", { class: "card wide", id: "states" }, h("h3", {}, "Jobs by state"));
  const states = summary && summary.states;
  if (!states) {
    card.append(h("p", { class: "muted" }, "This server does not count jobs by state (GET /summary)."));
    return card;
  }
  card.append(
    h("ul", { class: "states" },
      STATES.filter((state) => state in states).map((state) =>
        h("li", {}, h("a", { href: `#/jobs?state=${state}` }, badge(state), h("b", {}, number(states[state])))),
      ),
    ),
  );
  return card;
}

async function pauseOrResume(queue, refresh) {
  const action = queue.paused ? "resume" : "pause";
  try {
    const answer = await api(`queues/${encodeURIComponent(queue.name)}/${action}`, { method: "POST" });
    flash(`${answer.queue} ${answer.paused ? "paused" : "resumed"}${answer.changed ? "" : " (it already was)"}.`, "ok");
  } catch (error) {
    flash(`Could not ${action} ${queue.name}: ${error.message}`, "error");
  }
  await refresh();
}

// Ready messages by priority lane, first taken first; only when more than one lane holds any.
function lanes(byPriority) {
  const held = Object.entries(byPriority || {}).filter(([, n]) => n).sort((a, b) => Number(a[0]) - Number(b[0]));
  if (held.length < 2) return null;
  return h("div", { class: "lanes", title: "ready messages by priority; a worker takes the first lane first" },
    h("span", { class: "muted" }, "ready by priority"),
    held.map(([priority, n]) => h("span", { class: "lane", "data-priority": priority }, h("b", {}, number(n)), ` ${priorityName(priority)}`)),
  );
}

// A declared key: a payload field, a format over fields, or a function; none is every job of the name.
function perKey(key) {
  return key ? [" per ", h("code", {}, key)] : " in all";
}

function flowLimits(flow) {
  const limits = [
    flow.concurrency_limit ? [`at most ${flow.concurrency_limit} at a time`, perKey(flow.concurrency_key)] : null,
    flow.rate_limit ? [h("span", { title: flow.rate_limit }, rateText(flow.rate_limit)), perKey(flow.rate_key)] : null,
    flow.unique_for_s ? [`unique for ${duration(flow.unique_for_s)}`, perKey(flow.unique_key)] : null,
  ].filter(Boolean);
  // Each limit stays on one line; the lines break between limits.
  return limits.map((limit, i) => [i ? " · " : null, h("span", { class: "limit" }, limit)]);
}

// The queue's jobs under flow control, with how many wait now for a slot or a rate turn.
function flowList(flows) {
  if (!flows || !flows.length) return null;
  const count = (n, label, kind) => h("span", { class: n ? `${kind} busy` : kind }, h("b", {}, number(n)), ` ${label}`);
  return h("div", { class: "flow" },
    h("span", { class: "muted" }, "flow control"),
    h("ul", {},
      flows.map((flow) =>
        h("li", { "data-flow-job": flow.job },
          h("div", { class: "flow-head" },
            h("a", { href: `#/jobs?name=${encodeURIComponent(flow.job)}` }, flow.job),
            h("span", { class: "counts", title: "jobs waiting now for a concurrency slot; for their turn under the rate limit" },
              count(flow.waiting, "waiting for a slot", "waiting"), " · ", count(flow.throttled, "throttled", "throttled")),
          ),
          h("div", { class: "limits muted" }, flowLimits(flow)),
        ),
      ),
    ),
  );
}

function queuePanel(queue, history, refresh) {
  const live = queue.live_workers || {};
  const perMinute = queue.finished_per_minute;
  const stats = [
    ["queued", queue.queued],
    ["ready", queue.ready],
    ["delayed", queue.delayed],
    ["running", queue.running],
    ["sleeping", queue.sleeping],
    ["dead", queue.dead],
  ].filter(([, value]) => value !== undefined);
  return h("section", { class: "card queue", "data-queue": queue.name },
    h("header", {},
      h("h3", {}, queue.name, " ", queue.paused ? badge("paused", "warn") : badge("active", "up")),
      h("button", {
        class: queue.paused ? "primary" : "",
        "data-action": queue.paused ? "resume" : "pause",
        onclick: () => pauseOrResume(queue, refresh),
      }, queue.paused ? "Resume" : "Pause"),
    ),
    h("div", { class: "stats" },
      stats.map(([label, value]) =>
        label === "dead" && value
          ? h("a", { class: "stat", href: `#/dead?queue=${encodeURIComponent(queue.name)}` }, h("b", {}, number(value)), label)
          : h("div", { class: "stat" }, h("b", {}, number(value)), label),
      ),
      h("div", { class: "stat", title: "live workers: Dramatiq / Temporal" }, h("b", {}, `${number(live.dramatiq || 0)} / ${number(live.temporal || 0)}`), "workers D / T"),
      queue.oldest_waiting_s !== undefined
        ? h("div", { class: "stat" }, h("b", {}, queue.oldest_waiting_s === null ? "—" : duration(queue.oldest_waiting_s)), "oldest waiting")
        : null,
      perMinute
        ? h("div", { class: "stat" }, h("b", {}, ["1", "5", "15"].map((m) => number(Math.round((perMinute[m] || 0) * 10) / 10)).join(" · ")), "done/min 1·5·15")
        : null,
    ),
    lanes(queue.ready_by_priority),
    history
      ? queueChart(history, queue.name)
      : h("p", { class: "muted chart-missing" }, "No history from this server (GET /queues/{name}/history)."),
    flowList(queue.flow),
    queue.paused && queue.paused_at ? h("p", { class: "muted small" }, "Paused ", ago(queue.paused_at), "; dispatches wait, none go to Temporal.") : null,
  );
}

function workerTable(workers) {
  return table(
    ["Worker", "Engine", "Host · pid", "Queues", "Concurrency", "Done", "Failed", "Started", "Last beat", "Version"],
    workers.length
      ? workers.map((w) =>
          h("tr", {},
            h("td", {}, h("code", {}, w.worker_id)),
            h("td", {}, badge(w.engine, w.engine)),
            h("td", {}, `${w.host} · ${w.pid}`),
            h("td", {}, w.queues.join(", ")),
            h("td", {}, Object.entries(w.concurrency || {}).map(([q, n]) => `${q}: ${n}`).join(", ") || "—"),
            h("td", { class: "num" }, number(w.jobs_done)),
            h("td", { class: "num" }, number(w.jobs_failed)),
            h("td", {}, when(w.started_at)),
            h("td", {}, when(w.last_seen)),
            h("td", {}, w.version || "—"),
          ),
        )
      : empty(10, "No live worker."),
    { class: "workers" },
  );
}

export async function renderOverview(visit) {
  const refresh = async () => {
    // /summary has it all in one answer; without it (an older server, or Redis
    // down: 503) the engines come from /readyz, which answers whatever happens.
    const [summary, byQueue] = await Promise.all([
      optional("summary").catch(() => null),
      api("workers").catch(() => ({})),
    ]);
    const ready = summary ? summary.engines : await api("readyz", { accept: [503] });
    let queues = summary ? summary.queues : null;
    let queuesError = null;
    if (!queues) {
      queues = await api("queues").catch((error) => {
        queuesError = error.message;
        return [];
      });
    }
    const histories = await Promise.all(
      queues.map((q) => optional(`queues/${encodeURIComponent(q.name)}/history`).catch(() => null)),
    );
    const workers = uniqueWorkers(byQueue);
    const perEngine = workersPerEngine(summary, workers);
    visit.show(
      h("div", { class: "title" }, h("h2", {}, "Overview"),
        h("span", { class: "muted small" }, `updated ${new Date().toLocaleTimeString()} · every 5 s`)),
      h("div", { class: "cards" }, engineCards(ready, perEngine), fallbackCard(summary), statesCard(summary)),
      h("h2", {}, "Queues"),
      queuesError ? h("p", { class: "notice error" }, `Queues unavailable: ${queuesError}`) : null,
      h("div", { class: "queues" }, queues.map((q, i) => queuePanel(q, histories[i], refresh))),
      h("h2", {}, "Workers"),
      workerTable(workers),
    );
  };
  await refresh();
  visit.every(5000, refresh);
}
