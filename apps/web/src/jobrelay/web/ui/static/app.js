// The dashboard's router: one page, a view per hash route (#/, #/jobs, #/job/ID,
// #/schedules, #/schedule/ID, #/dead).

import { api } from "./api.js";
import { flash, h, replace } from "./dom.js";
import { renderDeadLetters } from "./pages/dead.js";
import { renderJob } from "./pages/job.js";
import { renderJobs } from "./pages/jobs.js";
import { renderOverview } from "./pages/overview.js";
import { renderSchedule, renderSchedules } from "./pages/schedules.js";

const ROUTES = [
  [/^$/, "overview", renderOverview],
  [/^jobs$/, "jobs", renderJobs],
  [/^job\/(.+)$/, "jobs", renderJob],
  [/^schedules$/, "schedules", renderSchedules],
  [/^schedule\/(.+)$/, "schedules", renderSchedule],
  [/^dead$/, "dead", renderDeadLetters],
];

let current = null;

// What a view gets: its element, the route's parameters, and timers that stop
// when the user goes elsewhere.
class Visit {
  constructor(view) {
    this.view = view;
    this.left = false;
    this.timers = [];
  }

  every(ms, fn) {
    const tick = async () => {
      if (this.left || document.hidden) return;
      try {
        await fn();
      } catch (error) {
        flash(error.message, "error");
      }
    };
    this.timers.push(setInterval(tick, ms));
  }

  // Put ``children`` in the view, unless the user went elsewhere meanwhile.
  show(...children) {
    if (!this.left) replace(this.view, ...children);
  }

  leave() {
    this.left = true;
    this.timers.forEach(clearInterval);
  }
}

function parse() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const cut = raw.indexOf("?");
  const path = decodeURIComponent(cut < 0 ? raw : raw.slice(0, cut));
  const params = new URLSearchParams(cut < 0 ? "" : raw.slice(cut + 1));
  return { path: path.replace(/\/$/, ""), params };
}

async function route() {
  const { path, params } = parse();
  if (current) current.leave();
  const view = document.getElementById("view");
  document.getElementById("flash").replaceChildren();
  for (const [pattern, nav, render] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.route === nav));
    const visit = (current = new Visit(view));
    replace(view, h("p", { class: "muted" }, "Loading…"));
    try {
      await render(visit, params, ...match.slice(1));
    } catch (error) {
      if (!visit.left) replace(view, h("p", { class: "notice error" }, error.message));
    }
    return;
  }
  replace(view, h("p", { class: "notice" }, `No page “${path}”. `, h("a", { href: "#/" }, "Overview")));
}

async function start() {
  window.addEventListener("hashchange", route);
  route();
  const session = await api("ui/session").catch(() => null);
  if (session && session.token_required) document.getElementById("signout").hidden = false;
}

start();
