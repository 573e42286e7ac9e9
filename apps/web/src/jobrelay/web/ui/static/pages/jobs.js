// Jobs: the list over both engines with its filters, a page at a time (cursor).

import { api, ApiError, optional } from "../api.js";
import { badge, empty, h, notice, STATES, table, toDate, when } from "../dom.js";

const FILTERS = ["state", "queue", "name", "engine", "since", "until", "limit"];

// The cursors of the pages before this one, for "Previous" (the API only goes forward).
let trail = [];
let trailKey = null;

function hashFor(params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value);
  const text = query.toString();
  return `#/jobs${text ? `?${text}` : ""}`;
}

function localInput(iso) {
  const d = toDate(iso);
  if (!d) return "";
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

function select(name, label, options, value, any = true) {
  // A value from the address that the list lacks (limit=10, say) stays chosen.
  const all = value && !options.includes(value) ? [...options, value] : options;
  return h("label", {}, label,
    h("select", { name },
      any ? h("option", { value: "" }, "any") : null,
      all.map((o) => h("option", { value: o, selected: o === value }, o)),
    ),
  );
}

function filterForm(filters, queues, names) {
  const form = h("form", { class: "filters", id: "job-filters" },
    select("state", "State", STATES, filters.state),
    select("queue", "Queue", queues, filters.queue),
    h("label", {}, "Name", h("input", { name: "name", list: "job-names", value: filters.name || "", placeholder: "any", autocomplete: "off" })),
    h("datalist", { id: "job-names" }, names.map((n) => h("option", { value: n }))),
    select("engine", "Engine", ["dramatiq", "temporal"], filters.engine),
    h("label", {}, "Since", h("input", { name: "since", type: "datetime-local", value: localInput(filters.since) })),
    h("label", {}, "Until", h("input", { name: "until", type: "datetime-local", value: localInput(filters.until) })),
    select("limit", "Per page", ["25", "50", "100", "200"], filters.limit || "50", false),
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary" }, "Filter"),
      h("a", { href: "#/jobs", class: "button" }, "Clear"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = {};
    for (const key of FILTERS) {
      let value = (data.get(key) || "").trim();
      // datetime-local is the browser's local time; the API wants an instant.
      if (value && (key === "since" || key === "until")) value = new Date(value).toISOString();
      if (key === "limit" && value === "50") value = "";
      next[key] = value;
    }
    window.location.hash = hashFor(next);
  });
  return form;
}

function openBox() {
  const form = h("form", { class: "open-job" },
    h("label", {}, "Open job ", h("input", { name: "job_id", placeholder: "job id", required: true, autocomplete: "off" })),
    h("button", { type: "submit" }, "Open"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = new FormData(form).get("job_id").trim();
    if (id) window.location.hash = `#/job/${encodeURIComponent(id)}`;
  });
  return form;
}

function jobRow(job) {
  return h("tr", { "data-job": job.job_id, "data-state": job.state },
    h("td", {}, h("a", { href: `#/job/${encodeURIComponent(job.job_id)}` }, h("code", {}, job.job_id))),
    h("td", {}, job.name || "—"),
    h("td", {}, job.queue || "—"),
    h("td", {}, job.engine ? badge(job.engine, job.engine) : "—"),
    h("td", {}, badge(job.state)),
    h("td", { class: "num" }, String(job.attempts ?? 0)),
    h("td", {}, h("progress", { max: 100, value: job.progress || 0, title: `${job.progress || 0}%` })),
    h("td", {}, when(job.created_at)),
    h("td", {}, when(job.finished_at || job.updated_at)),
    h("td", { class: "error-cell", title: job.error || "" }, job.error ? job.error.split("\n")[0].slice(0, 80) : ""),
  );
}

export async function renderJobs(visit, params) {
  const filters = Object.fromEntries(FILTERS.map((key) => [key, params.get(key) || ""]));
  const cursor = params.get("cursor") || "";
  const key = JSON.stringify(filters);
  if (key !== trailKey) {
    trail = [];
    trailKey = key;
  }
  // Back (browser or button) to the page before: that cursor leaves the trail.
  if (trail.length && trail[trail.length - 1] === cursor) trail.pop();

  const [queues, types] = await Promise.all([api("queues").catch(() => []), api("job-types").catch(() => [])]);
  const queueNames = queues.map((q) => q.name);
  const names = types.map((t) => t.name);
  let page;
  let problem = null;
  try {
    page = await optional("jobs", { query: { ...filters, cursor } });
    // The index is read a bounded stretch per request: a rare filter can answer
    // an empty page that still has a next one. Look a few stretches further.
    for (let hop = 0; page && !page.items.length && page.next_cursor && hop < 10; hop += 1) {
      page = await api("jobs", { query: { ...filters, cursor: page.next_cursor } });
    }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    problem = error.message;
  }
  const head = [h("div", { class: "title" }, h("h2", {}, "Jobs"), openBox()), filterForm(filters, queueNames, names)];
  if (problem) {
    visit.show(head, notice(`The server refused this filter: ${problem}`));
    return;
  }
  if (page === null) {
    visit.show(head, notice("This server cannot list jobs yet (GET /jobs); open one by its id above."));
    return;
  }
  const go = (target) => {
    window.location.hash = hashFor({ ...filters, cursor: target });
  };
  visit.show(
    head,
    table(
      ["Job", "Name", "Queue", "Engine", "State", "Attempts", "Progress", "Created", "Finished / updated", "Error"],
      page.items.length ? page.items.map(jobRow) : empty(10, "No job matches."),
      { class: "jobs", id: "job-list" },
    ),
    h("nav", { class: "pager" },
      h("button", { disabled: !cursor, "data-action": "previous-page", onclick: () => go(trail.length ? trail[trail.length - 1] : "") }, "← Previous"),
      h("span", { class: "muted" }, `${page.items.length} shown · ${cursor ? `page ${trail.length + 1}` : "first page"}`),
      h("button", {
        disabled: !page.next_cursor,
        "data-action": "next-page",
        onclick: () => {
          trail.push(cursor);
          go(page.next_cursor);
        },
      }, "Next →"),
    ),
  );
}
