// Schedules: every one (declared in code or added at run time) with its rule, next
// and last firings; Pause / Resume, Trigger, Delete; a form for a run-time one.
// One schedule's page adds its fields and a backfill.

import { api, ApiError } from "../api.js";
import { badge, clock, duration, empty, flash, h, json, notice, number, replace, table, toDate, when } from "../dom.js";

const UNITS = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];

function path(id, action) {
  return `schedules/${encodeURIComponent(id)}${action ? `/${action}` : ""}`;
}

// The API writes a period as ISO 8601 ("PT1H30M"): seconds, or null for another shape.
function isoSeconds(text) {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text || "");
  if (!m) return null;
  return (Number(m[1]) || 0) * 86400 + (Number(m[2]) || 0) * 3600 + (Number(m[3]) || 0) * 60 + (Number(m[4]) || 0);
}

// "PT1H30M" -> "1 h 30 min"; a shape it does not know stays as the API wrote it.
function period(text) {
  let left = isoSeconds(text);
  if (left === null) return text || "—";
  const parts = [];
  for (const [unit, size] of UNITS) {
    const n = Math.floor(left / size);
    if (n) parts.push(`${n} ${unit}`);
    left -= n * size;
  }
  return parts.join(" ") || "0 s";
}

function rule(schedule) {
  if (schedule.cron) {
    return h("span", { class: "rule" }, h("code", {}, schedule.cron), " ", h("span", { class: "muted" }, schedule.tz));
  }
  return h("span", { class: "rule" }, "every ", h("b", {}, period(schedule.every)));
}

function until(value) {
  const d = toDate(value);
  if (!d) return "";
  const seconds = (d.getTime() - Date.now()) / 1000;
  return seconds <= 0 ? "due" : `in ${duration(seconds)}`;
}

function nextTicks(view) {
  if (!view.next_ticks.length) return h("span", { class: "muted" }, view.paused ? "paused" : "none (past its end)");
  return h("ol", { class: "ticks" },
    view.next_ticks.map((tick, i) =>
      h("li", { title: tick }, clock(tick), i === 0 ? h("span", { class: "muted" }, ` · ${until(tick)}`) : null),
    ),
  );
}

function jobLink(jobId) {
  return h("a", { href: `#/job/${encodeURIComponent(jobId)}`, class: "job-link", "data-job": jobId }, h("code", {}, jobId));
}

function lastJob(view) {
  const id = view.state.last_job;
  if (!id) return h("span", { class: "muted" }, "—");
  // An expired record (or an engine that does not answer) leaves the state unknown.
  return h("span", { class: "last-job" }, jobLink(id), " ", badge(view.last_job_state || "unknown"));
}

// -- actions: one API call each, then the view is read again -----------------------

async function pauseOrResume(view, refresh) {
  const id = view.schedule.id;
  const action = view.paused ? "resume" : "pause";
  try {
    const answer = await api(path(id, action), { method: "POST" });
    flash(`${id} ${answer.paused ? "paused: no tick fires until Resume" : "resumed: ticks fire again from now on"}.`, "ok");
  } catch (error) {
    flash(`Could not ${action} ${id}: ${error.message}`, "error");
  }
  await refresh();
}

async function trigger(view, refresh) {
  const id = view.schedule.id;
  try {
    const firing = await api(path(id, "trigger"), { method: "POST" });
    const again = firing.new ? "" : " (that tick had fired already)";
    // One span: the message box spreads its children apart (text, then ×).
    flash(h("span", {}, `Fired ${id} for ${clock(firing.tick)}${again}: job `, jobLink(firing.job_id), "."), "ok");
  } catch (error) {
    flash(`Could not trigger ${id}: ${error.message}`, "error");
  }
  await refresh();
}

// True when it is gone.
async function remove(view) {
  const id = view.schedule.id;
  if (!window.confirm(`Delete the schedule ${id}? The jobs it fired stay.`)) return false;
  try {
    await api(path(id), { method: "DELETE" });
    flash(`Deleted ${id}; the jobs it fired stay.`, "ok");
    return true;
  } catch (error) {
    flash(`Could not delete ${id}: ${error.message}`, "error");
    return false;
  }
}

function buttons(view, refresh, deleted) {
  const code = view.source === "code";
  return [
    h("button", {
      class: view.paused ? "primary" : "",
      "data-action": view.paused ? "resume" : "pause",
      onclick: () => pauseOrResume(view, refresh),
    }, view.paused ? "Resume" : "Pause"),
    h("button", { "data-action": "trigger", title: "fire a tick now, paused or not", onclick: () => trigger(view, refresh) }, "Trigger"),
    // A schedule declared in code is changed (or removed) there, not here.
    code
      ? null
      : h("button", {
          class: "danger",
          "data-action": "delete",
          onclick: async () => {
            if (await remove(view)) await deleted();
          },
        }, "Delete"),
  ];
}

// -- forms --------------------------------------------------------------------------

// A form whose fields show the API's 422 errors next to them (``detail[].loc``
// names the field after "body"); anything else goes in a line under the form.
class FieldErrors {
  constructor(names) {
    this.form = null; // set once the form around the fields is built
    this.spans = Object.fromEntries(names.map((name) => [name, h("span", { class: "field-error", "data-error-for": name })]));
    this.general = h("p", { class: "form-error", "data-error-for": "form", role: "alert" });
  }

  clear() {
    Object.values(this.spans).forEach((span) => span.replaceChildren());
    this.general.replaceChildren();
    this.form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
  }

  add(name, text) {
    const span = this.spans[name];
    if (!span) {
      this.general.append(h("span", {}, text));
      return;
    }
    span.append(h("span", {}, text));
    const input = this.form.elements.namedItem(name);
    if (input) input.setAttribute("aria-invalid", "true");
  }

  // Place an error the API answered; false when it is not one to place.
  show(error) {
    if (!(error instanceof ApiError)) return false;
    if (error.status === 422 && Array.isArray(error.detail)) {
      for (const d of error.detail) {
        const loc = (d.loc || []).slice(d.loc && d.loc[0] === "body" ? 1 : 0);
        const name = String(loc[0] ?? "");
        const rest = loc.slice(1).join(".");
        if (name in this.spans) this.add(name, rest ? `${rest}: ${d.msg}` : d.msg);
        else this.add("", loc.length ? `${loc.join(".")}: ${d.msg}` : d.msg);
      }
      return true;
    }
    if (error.status === 409 && "id" in this.spans) {
      this.add("id", Array.isArray(error.detail) ? error.detail.map((d) => d.msg).join("; ") : error.message);
      return true;
    }
    this.add("", error.message);
    return true;
  }
}

function labelled(errors, name, label, control) {
  return h("label", {}, label, control, errors.spans[name]);
}

function addForm(types, refresh) {
  const errors = new FieldErrors(["id", "job", "cron", "every", "tz", "payload"]);
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  // novalidate: the API checks every field and says what is wrong, next to it.
  const form = h("form", { class: "filters schedule-form", id: "add-schedule", novalidate: true },
    labelled(errors, "id", "Id", h("input", { name: "id", placeholder: "nightly-report", autocomplete: "off", size: 18 })),
    labelled(errors, "job", "Job",
      h("select", { name: "job" },
        h("option", { value: "" }, types.length ? "choose a job…" : "no job registered"),
        types.map((t) => h("option", { value: t.name }, t.name)),
      ),
    ),
    labelled(errors, "cron", "Cron", h("input", { name: "cron", placeholder: "0 3 * * *", autocomplete: "off", size: 14 })),
    labelled(errors, "every", "or every", h("input", { name: "every", placeholder: "PT1H or seconds", autocomplete: "off", size: 14 })),
    labelled(errors, "tz", "Timezone", h("input", { name: "tz", value: "UTC", list: "timezones", autocomplete: "off", size: 16 })),
    h("datalist", { id: "timezones" }, zones.map((zone) => h("option", { value: zone }))),
    labelled(errors, "payload", "Payload (JSON)", h("textarea", { name: "payload", rows: 2, spellcheck: "false" }, "{}")),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Add")),
    errors.general,
  );
  errors.form = form;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const data = new FormData(form);
    const text = (key) => (data.get(key) || "").trim();
    // Only what was filled in: the API's defaults (and its messages) for the rest.
    const body = { id: text("id") };
    if (text("job")) body.job = text("job");
    if (text("cron")) body.cron = text("cron");
    // A bare number is seconds; anything else goes as written (ISO 8601, "1:00:00").
    if (text("every")) body.every = /^\d+$/.test(text("every")) ? Number(text("every")) : text("every");
    if (text("tz")) body.tz = text("tz");
    if (text("payload")) {
      try {
        body.payload = JSON.parse(text("payload"));
      } catch (error) {
        errors.add("payload", `not JSON: ${error.message}`);
        return;
      }
    }
    try {
      const view = await api("schedules", { method: "POST", body });
      const next = view.next_ticks.length ? `; next firing ${clock(view.next_ticks[0])}` : "";
      flash(`Added ${view.schedule.id}${next}.`, "ok");
      form.reset();
    } catch (error) {
      if (!errors.show(error)) throw error;
      return;
    }
    await refresh();
  });
  return form;
}

function localInput(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

function backfillForm(id, refresh) {
  const errors = new FieldErrors(["start", "end"]);
  const results = h("div", { id: "backfill-result" });
  const now = new Date();
  const form = h("form", { class: "filters", id: "backfill", novalidate: true },
    labelled(errors, "start", "From", h("input", { name: "start", type: "datetime-local", value: localInput(new Date(now - 86400000)) })),
    labelled(errors, "end", "To (inclusive)", h("input", { name: "end", type: "datetime-local", value: localInput(now) })),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Backfill")),
    errors.general,
  );
  errors.form = form;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const data = new FormData(form);
    // datetime-local is the browser's local time; the API wants an instant.
    const instant = (key) => (data.get(key) ? new Date(data.get(key)).toISOString() : null);
    let answer;
    try {
      answer = await api(path(id, "backfill"), { method: "POST", body: { start: instant("start"), end: instant("end") } });
    } catch (error) {
      if (!errors.show(error)) throw error;
      return;
    }
    flash(`Backfilled ${id}: ${answer.fired} fired, ${answer.already} had fired before.`, "ok");
    replace(results,
      table(
        ["Tick", "Job", ""],
        answer.firings.length
          ? answer.firings.map((f) =>
              h("tr", { "data-tick": f.tick, "data-new": String(f.new) },
                h("td", {}, clock(f.tick)),
                h("td", {}, jobLink(f.job_id)),
                h("td", {}, f.new ? badge("fired", "ok") : badge("had fired", "none")),
              ),
            )
          : empty(3, "No tick in that stretch."),
        { class: "firings" },
      ),
    );
    await refresh();
  });
  return [form, results];
}

// -- the list -------------------------------------------------------------------------

function scheduleRow(view, refresh) {
  const s = view.schedule;
  const state = view.state;
  return h("tr", { "data-schedule": s.id, "data-paused": String(view.paused), "data-source": view.source },
    h("td", { class: "id" },
      h("a", { href: `#/schedule/${encodeURIComponent(s.id)}` }, h("code", {}, s.id)),
      h("div", { title: view.source === "code" ? "declared on its job in code" : "added at run time (kept in Redis)" }, badge(view.source, "source")),
    ),
    h("td", {}, s.job || "—"),
    h("td", {}, rule(s)),
    h("td", { class: "paused" }, view.paused ? badge("paused", "warn") : badge("active", "up")),
    h("td", { class: "next" }, nextTicks(view)),
    h("td", {}, state.last_fired_at ? when(state.last_fired_at) : h("span", { class: "muted" }, "never")),
    h("td", { class: "last" }, lastJob(view)),
    h("td", { class: "num", title: "fired / skipped (overlap)" }, `${number(state.fired)} / ${number(state.skipped)}`),
    h("td", { class: "row-actions" }, buttons(view, refresh, refresh)),
  );
}

export async function renderSchedules(visit) {
  const types = await api("job-types").catch(() => []);
  const list = h("div", { id: "schedules" });
  let asked = 0;
  const refresh = async () => {
    const mine = (asked += 1);
    const views = await api("schedules");
    // A read that started before a button's must not undo what the button showed.
    if (mine !== asked) return;
    replace(list,
      table(
        ["Schedule", "Job", "Rule", "Status", "Next firings", "Last fired", "Last job", "Fired / skipped", ""],
        views.length ? views.map((v) => scheduleRow(v, refresh)) : empty(9, "No schedule: declare one on a job in code, or add one below."),
        { class: "schedules", id: "schedule-list" },
      ),
      h("p", { class: "muted small" }, `${views.length} schedule${views.length === 1 ? "" : "s"} · times are this browser's · updated ${new Date().toLocaleTimeString()} · every 5 s`),
    );
  };
  await refresh();
  visit.show(
    h("div", { class: "title" },
      h("h2", {}, "Schedules"),
      h("div", { class: "actions" }, h("button", { onclick: refresh }, "Refresh")),
    ),
    list,
    h("h3", {}, "Add a run-time schedule"),
    h("p", { class: "muted small" }, "Kept in Redis and fired by every scheduler; give a cron (read in the timezone) or a period."),
    addForm(types, refresh),
  );
  visit.every(5000, refresh);
}

// -- one schedule ---------------------------------------------------------------------

function field(label, value) {
  return [h("dt", {}, label), h("dd", {}, value === undefined || value === null || value === "" ? "—" : value)];
}

function detail(view, refresh, deleted) {
  const s = view.schedule;
  const state = view.state;
  return [
    h("div", { class: "title" },
      h("h2", {}, h("code", {}, s.id), " ", view.paused ? badge("paused", "warn") : badge("active", "up"), " ", badge(view.source, "source")),
      h("div", { class: "actions" }, buttons(view, refresh, deleted)),
    ),
    h("div", { class: "columns" },
      h("section", { class: "card" },
        h("h3", {}, "Rule"),
        h("dl", { class: "fields" },
          field("Job", s.job),
          field("Rule", rule(s)),
          field("Overlap", s.overlap),
          field("Catch-up", `${s.catchup}${s.catchup === "all" ? ` within ${period(s.catchup_window)}` : ""}`),
          field("Jitter", isoSeconds(s.jitter) ? `up to ${period(s.jitter)}` : "none"),
          field("Start", s.start ? clock(s.start) : null),
          field("End", s.end ? clock(s.end) : null),
        ),
        h("h3", {}, "Payload"),
        h("pre", { class: "json" }, json(s.payload)),
      ),
      h("section", { class: "card", id: "firings" },
        h("h3", {}, "Firings"),
        h("p", { class: "muted small" }, "By the schedulers; a Trigger or a backfill is not counted here."),
        h("dl", { class: "fields" },
          field("Next", nextTicks(view)),
          field("Last fired", state.last_fired_at ? h("span", {}, clock(state.last_fired_at), " ", h("span", { class: "muted" }, "(", when(state.last_fired_at), ")")) : "never"),
          field("Last tick handled", state.last ? clock(state.last) : null),
          field("Last job", lastJob(view)),
          field("Waiting (buffer_one)", state.buffered ? clock(state.buffered) : null),
          field("Fired", number(state.fired)),
          field("Skipped", number(state.skipped)),
        ),
      ),
    ),
  ];
}

export async function renderSchedule(visit, params, scheduleId) {
  const top = h("div", {});
  const back = h("p", {}, h("a", { href: "#/schedules" }, "← all schedules"));
  let gone = false;
  let asked = 0;
  const deleted = async () => {
    gone = true;
    visit.show(notice(`Deleted ${scheduleId}; the jobs it fired stay.`), back);
  };
  const load = async () => {
    if (gone) return;
    const mine = (asked += 1);
    let view;
    try {
      view = await api(path(scheduleId));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        gone = true;
        visit.show(notice(`No schedule ${scheduleId}.`), back);
        return;
      }
      throw error;
    }
    if (mine === asked && !gone) replace(top, detail(view, load, deleted));
  };
  await load();
  if (gone) return;
  visit.show(
    top,
    h("section", { class: "card backfill" },
      h("h3", {}, "Backfill"),
      h("p", { class: "muted small" }, "Fire every tick in a past stretch that has not fired yet (at most 1000); a tick fired before is not run again."),
      backfillForm(scheduleId, load),
    ),
    back,
  );
  visit.every(5000, load);
}
