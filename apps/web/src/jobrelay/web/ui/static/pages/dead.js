// Dead letters: a queue's, with retry (one or all) and purge of undecodable ones.

import { api } from "../api.js";
import { badge, clock, empty, flash, h, number, table, when } from "../dom.js";

function letterRow(queue, letter, refresh) {
  const retry = async () => {
    try {
      const receipt = await api(`dead-letters/${encodeURIComponent(queue)}/${encodeURIComponent(letter.redis_id)}/retry`, { method: "POST" });
      flash(`Retried ${receipt.job_id} on ${receipt.engine}.`, "ok");
    } catch (error) {
      flash(`Could not retry: ${error.message}`, "error");
    }
    await refresh();
  };
  const purge = async () => {
    if (!window.confirm("Delete this message for good?")) return;
    try {
      await api(`dead-letters/${encodeURIComponent(queue)}/${encodeURIComponent(letter.redis_id)}`, { method: "DELETE" });
      flash("Purged.", "ok");
    } catch (error) {
      flash(`Could not purge: ${error.message}`, "error");
    }
    await refresh();
  };
  return h("tr", { "data-letter": letter.redis_id },
    h("td", {}, when(letter.dead_at)),
    h("td", {}, letter.job_id ? h("a", { href: `#/job/${encodeURIComponent(letter.job_id)}` }, h("code", {}, letter.job_id)) : badge("undecodable", "warn")),
    h("td", {}, letter.job_name || h("code", {}, letter.actor_name || "—")),
    h("td", { class: "error-cell", title: letter.reason }, letter.reason),
    h("td", { class: "row-actions" },
      letter.job_id
        ? h("button", { "data-action": "retry", onclick: retry }, "Retry")
        : h("button", { class: "danger", "data-action": "purge", onclick: purge }, "Purge"),
    ),
  );
}

export async function renderDeadLetters(visit, params) {
  const queues = await api("queues");
  const queue = params.get("queue") || (queues.find((q) => q.dead) || queues[0] || {}).name || "default";

  const refresh = async () => {
    const [letters, current] = await Promise.all([
      api("dead-letters", { query: { queue } }),
      api("queues"),
    ]);
    const retryAll = async () => {
      try {
        const answer = await api(`dead-letters/${encodeURIComponent(queue)}/retry`, { method: "POST" });
        const left = answer.left.length ? `; ${answer.left.length} left: ${answer.left.map((l) => l.why).join("; ")}` : "";
        flash(`Retried ${answer.retried.length}${left}.`, answer.left.length ? "warn" : "ok");
      } catch (error) {
        flash(`Could not retry: ${error.message}`, "error");
      }
      await refresh();
    };
    visit.show(
      h("div", { class: "title" },
        h("h2", {}, "Dead letters"),
        h("div", { class: "actions" },
          h("button", { onclick: refresh }, "Refresh"),
          h("button", { class: "primary", "data-action": "retry-all", disabled: !letters.some((l) => l.job_id), onclick: retryAll }, "Retry all"),
        ),
      ),
      h("nav", { class: "tabs" },
        current.map((q) =>
          h("a", { href: `#/dead?queue=${encodeURIComponent(q.name)}`, class: q.name === queue ? "active" : "" }, q.name, " ", h("span", { class: "count" }, number(q.dead))),
        ),
      ),
      table(
        ["Died", "Job", "Name", "Reason", ""],
        letters.length ? letters.map((l) => letterRow(queue, l, refresh)) : empty(5, `No dead letter in ${queue}.`),
        { class: "dead", id: "dead-letters" },
      ),
      h("p", { class: "muted small" }, `Oldest first · read ${clock(Date.now() / 1000)}`),
    );
  };
  await refresh();
}
