// One job: its fields, attempt timeline and steps; retry and cancel.

import { api, ApiError } from "../api.js";
import { attemptTimeline } from "../chart.js";
import { ACTIVE, badge, clock, duration, empty, flash, h, json, notice, priorityName, rateText, RETRYABLE, table, toDate, when } from "../dom.js";

function field(label, value) {
  return [h("dt", {}, label), h("dd", {}, value === undefined || value === null || value === "" ? "—" : value)];
}

function seconds(a, b) {
  const start = toDate(a);
  const end = toDate(b);
  return start && end ? (end - start) / 1000 : null;
}

// A step's result on one line: the API sends it as JSON text, cut when long.
function compact(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function fields(job) {
  const temporal = job.temporal;
  // No flow from a server that reports it means the default priority.
  const priority = "flow" in job ? (job.flow && job.flow.priority) || 3 : null;
  return h("dl", { class: "fields aligned" },
    field("Name", job.name),
    field("Queue", job.queue),
    priority ? field("Priority", h("span", { "data-priority": priority, title: "1 is taken first, 5 last" }, `${priorityName(priority)} (${priority})`)) : null,
    field("Engine", job.engine ? badge(job.engine, job.engine) : null),
    field("Why this engine", job.reason ? badge(job.reason, job.reason === "ok" ? "up" : "warn") : null),
    field("Attempts", String(job.attempts ?? 0)),
    field("Progress", h("span", {}, h("progress", { max: 100, value: job.progress || 0 }), ` ${job.progress || 0}% ${job.message || ""}`)),
    field("Created", clock(job.created_at)),
    field("Started", clock(job.started_at)),
    field("Finished", clock(job.finished_at)),
    field("Updated", job.updated_at ? when(job.updated_at) : null),
    field("Run time", duration(seconds(job.started_at, job.finished_at))),
    temporal ? field("Temporal workflow", h("code", {}, temporal.workflow_id)) : null,
    temporal ? field("Temporal run", h("code", {}, temporal.run_id || "—")) : null,
    temporal && temporal.ui_url
      ? field("Temporal UI", h("a", { href: temporal.ui_url, target: "_blank", rel: "noopener noreferrer" }, "open this run ↗"))
      : null,
  );
}

// The key a limit counts this job under: "*" (or none) is every job of its name.
function underKey(key) {
  return !key || key === "*" ? " over all jobs of its name" : [" for key ", h("code", {}, key)];
}

const WAITING = { slot: "waiting for a slot", rate: "waiting for its rate turn" };

// Its job's limits and window with this job's keys, and what it waits for; null without any.
function flowFields(flow) {
  if (!flow || !(flow.concurrency_limit || flow.rate_limit || flow.unique_for_s || flow.waiting_for)) return null;
  return [
    h("h3", {}, "Flow control"),
    h("dl", { class: "fields aligned", id: "job-flow" },
      flow.waiting_for ? field("Now", badge(WAITING[flow.waiting_for] || `waiting for ${flow.waiting_for}`, "warn")) : null,
      flow.concurrency_limit
        ? field("Concurrency", h("span", {}, `at most ${flow.concurrency_limit} at a time`, underKey(flow.concurrency_key)))
        : null,
      flow.rate_limit
        ? field("Rate", h("span", { title: flow.rate_limit }, rateText(flow.rate_limit), underKey(flow.rate_key)))
        : null,
      flow.unique_for_s
        ? field("Unique", h("span", {}, `one job within ${duration(flow.unique_for_s)} of the first`, underKey(flow.unique_key)))
        : null,
    ),
  ];
}

function attempts(history) {
  if (!history) return notice("This server does not report attempts.");
  if (!history.length) return h("p", { class: "muted" }, "No attempt has started yet.");
  return h("div", {},
    attemptTimeline(history),
    table(
      ["#", "Attempt", "Engine", "Worker", "Step", "Started", "Ended", "Took", "Outcome", "Error"],
      history.map((a, i) =>
        h("tr", { "data-attempt": a.attempt, "data-outcome": a.outcome || "" },
          h("td", { class: "num" }, String(i + 1)),
          h("td", { class: "num" }, String(a.attempt)),
          h("td", {}, a.engine ? badge(a.engine, a.engine) : "—"),
          h("td", {}, a.worker ? h("code", {}, a.worker) : "—"),
          // On Temporal an attempt may be one step's activity, not the whole run.
          h("td", {}, a.step ? h("code", {}, a.step) : "—"),
          h("td", {}, clock(a.started_at)),
          h("td", {}, clock(a.ended_at)),
          h("td", {}, duration(seconds(a.started_at, a.ended_at))),
          h("td", {}, badge(a.outcome || (a.ended_at ? "unknown" : "running"))),
          h("td", { class: "error-cell" },
            a.error || "",
            a.traceback ? h("details", {}, h("summary", {}, "traceback"), h("pre", {}, a.traceback)) : null,
          ),
        ),
      ),
      { class: "attempts" },
    ),
  );
}

function steps(list) {
  if (!list) return notice("This server does not report steps.");
  return table(
    ["Step", "State", "Runs", "Started", "Took", "Result", "Error"],
    list.length
      ? list.map((step) =>
          h("tr", { "data-step": step.step_id },
            h("td", {}, h("code", {}, step.step_id)),
            h("td", {}, badge(step.state)),
            h("td", { class: "num" }, String(step.attempts ?? "—")),
            h("td", {}, clock(step.started_at)),
            h("td", {}, step.duration_ms === null || step.duration_ms === undefined ? "—" : duration(step.duration_ms / 1000)),
            h("td", {}, step.result === undefined || step.result === null ? "—" : h("code", { class: "result" }, compact(step.result))),
            h("td", { class: "error-cell" }, step.error || ""),
          ),
        )
      : empty(7, "No step has run."),
    { class: "steps" },
  );
}

export async function renderJob(visit, params, jobId) {
  let last = null;
  let fresh = false;

  const act = async (action) => {
    const path = `jobs/${encodeURIComponent(jobId)}/${action}`;
    try {
      if (action === "retry") {
        const receipt = await api(path, { method: "POST", query: fresh ? { fresh: "true" } : {} });
        flash(`Retried: running on ${receipt.engine} (${receipt.reason}).`, "ok");
      } else {
        if (!window.confirm(`Cancel ${jobId}?`)) return;
        const answer = await api(path, { method: "POST" });
        flash(answer.cancelled ? "Cancel requested: it stops at its next step." : "It had already finished.", "ok");
      }
    } catch (error) {
      flash(`Could not ${action}: ${error.message}`, "error");
    }
    last = null; // show the new state even if the record reads the same
    await load();
    // A job no worker had started yet is cancelled on the spot: say so.
    if (action === "cancel" && last && JSON.parse(last).state === "cancelled") flash("Cancelled.", "ok");
  };

  const render = (job) => {
    const retryable = RETRYABLE.has(job.state);
    const freshBox = h("input", { type: "checkbox", name: "fresh", checked: fresh, onchange: (e) => (fresh = e.target.checked) });
    visit.show(
      h("div", { class: "title" },
        h("h2", {}, h("code", {}, job.job_id), " ", badge(job.state)),
        h("div", { class: "actions" },
          h("label", { class: "small", title: "run every step again, finished ones too" }, freshBox, " fresh"),
          h("button", { class: "primary", "data-action": "retry", disabled: !retryable, onclick: () => act("retry"),
            title: retryable ? "run it again through the dispatcher" : `a ${job.state} job cannot be retried` }, "Retry"),
          h("button", { class: "danger", "data-action": "cancel", disabled: !ACTIVE.has(job.state), onclick: () => act("cancel") }, "Cancel"),
        ),
      ),
      job.error ? h("pre", { class: "error-box" }, job.error) : null,
      h("div", { class: "columns" },
        h("section", { class: "card" }, h("h3", {}, "Fields"), fields(job), flowFields(job.flow)),
        h("section", { class: "card" },
          h("h3", {}, "Payload"), h("pre", { class: "json" }, job.payload === undefined ? "(not reported)" : json(job.payload)),
          h("h3", {}, "Result"), h("pre", { class: "json", id: "job-result" }, job.result === null || job.result === undefined ? "—" : json(job.result)),
        ),
      ),
      h("h3", {}, "Attempts"),
      attempts(job.history),
      h("h3", {}, "Steps"),
      steps(job.steps),
      h("p", {}, h("a", { href: "#/jobs" }, "← all jobs")),
    );
  };

  const load = async () => {
    let job;
    try {
      job = await api(`jobs/${encodeURIComponent(jobId)}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        visit.show(notice(`No job ${jobId}.`), h("p", {}, h("a", { href: "#/jobs" }, "← all jobs")));
        return;
      }
      throw error;
    }
    // Re-render only on a change: an open traceback stays open while it polls.
    const text = JSON.stringify(job);
    if (text !== last) {
      last = text;
      render(job);
    }
  };

  await load();
  // A job still on its way is watched; a finished one is read again on a retry.
  visit.every(1000, async () => {
    const state = last && JSON.parse(last).state;
    if (ACTIVE.has(state)) await load();
  });
}
