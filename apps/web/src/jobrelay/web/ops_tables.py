"""Rich tables of the web app's answers, for the operator CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table


def print_json(value: Any) -> None:
    """The API's answer as it came, indented."""
    Console().print_json(json.dumps(value))


def queues_table(queues: list[dict[str, Any]]) -> Table:
    """One row per queue: jobs by state, messages, throughput, workers and pause."""
    table = Table(title="queues")
    columns = (
        "queue",
        "queued",
        "running",
        "sleeping",
        "oldest wait",
        "ready",
        "delayed",
        "dead",
        "done/min (5m)",
        "dramatiq workers",
        "temporal workers",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "queue" else "right")
    table.add_column("paused")
    for q in queues:
        workers = q["live_workers"]
        table.add_row(
            q["name"],
            str(q.get("queued", "-")),
            str(q.get("running", "-")),
            str(q.get("sleeping", "-")),
            _age(q.get("oldest_waiting_s")),
            str(q["ready"]),
            str(q["delayed"]),
            str(q["dead"]),
            str(q.get("finished_per_minute", {}).get("5", "-")),
            str(workers.get("dramatiq", 0)),
            str(workers.get("temporal", 0)),
            "yes" if q["paused"] else "no",
        )
    return table


def workers_table(by_queue: dict[str, list[dict[str, Any]]]) -> Table:
    """One row per live worker and queue."""
    table = Table(title="live workers")
    for column in ("queue", "worker", "engine", "host", "pid", "done", "failed"):
        table.add_column(column, justify="right" if column in ("pid", "done", "failed") else "left")
    for queue, workers in by_queue.items():
        for w in workers:
            table.add_row(
                queue,
                w["worker_id"],
                w["engine"],
                w["host"],
                str(w["pid"]),
                str(w.get("jobs_done", 0)),
                str(w.get("jobs_failed", 0)),
            )
    return table


def dead_letters_table(queue: str, letters: list[dict[str, Any]]) -> Table:
    """One row per dead letter, oldest first."""
    table = Table(title=f"dead letters of {queue}: {len(letters)}")
    for column in ("redis id", "job id", "job", "dead at (UTC)", "reason"):
        table.add_column(column)
    for letter in letters:
        when = datetime.fromtimestamp(letter["dead_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            letter["redis_id"],
            letter.get("job_id") or "-",
            letter.get("job_name") or "-",
            when,
            letter["reason"][:120],
        )
    return table


def jobs_table(page: dict[str, Any]) -> RenderableType:
    """One row per job of a ``GET /jobs`` page, and how to get the next page."""
    table = Table(title=f"jobs: {len(page['items'])}")
    for column in ("job id", "name", "queue", "engine", "state", "created (UTC)", "error"):
        table.add_column(column)
    for job in page["items"]:
        table.add_row(
            job["job_id"],
            job.get("name") or "-",
            job.get("queue") or "-",
            job.get("engine") or "-",
            job["state"],
            _when(job.get("created_at")),
            (job.get("error") or "")[:80],
        )
    if page.get("next_cursor"):
        return Group(table, f"more: --cursor {page['next_cursor']}")
    return table


def job_view(job: dict[str, Any]) -> RenderableType:
    """A job's fields, then its attempts and its steps when the detail has them."""
    fields = Table(title=f"job {job['job_id']}", show_header=False)
    fields.add_column("field")
    fields.add_column("value")
    for key in ("name", "queue", "engine", "reason", "state", "attempts", "progress", "message"):
        fields.add_row(key, str(job.get(key) if job.get(key) is not None else "-"))
    for key in ("created_at", "started_at", "finished_at"):
        fields.add_row(key, _when(job.get(key)))
    if job.get("error"):
        fields.add_row("error", str(job["error"])[:300])
    if job.get("result") is not None:
        fields.add_row("result", json.dumps(job["result"])[:300])
    flow = job.get("flow")
    if flow:
        fields.add_row("flow", _flow(flow))
    temporal = job.get("temporal")
    if temporal:
        fields.add_row("workflow", f"{temporal.get('workflow_id')} / {temporal.get('run_id')}")
        if temporal.get("ui_url"):
            fields.add_row("temporal ui", temporal["ui_url"])
    parts: list[RenderableType] = [fields]
    history = job.get("history") or []
    if history:
        attempts = Table(title="attempts")
        for column in ("#", "engine", "worker", "started (UTC)", "ended (UTC)", "outcome", "error"):
            attempts.add_column(column)
        for a in history:
            attempts.add_row(
                str(a.get("attempt", "-")),
                a.get("engine") or "-",
                a.get("worker") or "-",
                _when(a.get("started_at")),
                _when(a.get("ended_at")),
                a.get("outcome") or "-",
                (a.get("error") or "")[:80],
            )
        parts.append(attempts)
    steps = job.get("steps") or []
    if steps:
        table = Table(title="steps")
        for column in ("step", "state", "attempts", "ms", "result"):
            table.add_column(column)
        for step in steps:
            table.add_row(
                step.get("step_id") or "-",
                step.get("state") or "-",
                str(step.get("attempts", "-")),
                str(step.get("duration_ms") if step.get("duration_ms") is not None else "-"),
                str(step.get("result") or step.get("error") or "")[:60],
            )
        parts.append(table)
    return Group(*parts)


def flow_table(queues: list[dict[str, Any]]) -> Table | None:
    """One row per flow-controlled job of each queue: its limits and who waits; None if none."""
    rows = [(q["name"], f) for q in queues for f in q.get("flow", [])]
    if not rows:
        return None
    table = Table(title="flow control")
    for column in ("queue", "job", "limits", "waiting for a slot", "throttled"):
        table.add_column(
            column, justify="right" if column in ("waiting for a slot", "throttled") else "left"
        )
    for queue, flow in rows:
        table.add_row(queue, flow["job"], _flow(flow), str(flow["waiting"]), str(flow["throttled"]))
    return table


def _flow(flow: dict[str, Any]) -> str:
    """A job's priority, limits and window in one line."""
    parts = []
    if "priority" in flow:
        parts.append(f"priority {flow['priority']}")
    if flow.get("concurrency_limit"):
        parts.append(
            f"at most {flow['concurrency_limit']} per {flow.get('concurrency_key') or '*'}"
        )
    if flow.get("rate_limit"):
        parts.append(f"rate {flow['rate_limit']} per {flow.get('rate_key') or '*'}")
    if flow.get("unique_for_s"):
        parts.append(f"unique for {flow['unique_for_s']:g} s per {flow.get('unique_key') or '*'}")
    if flow.get("waiting_for"):
        parts.append(f"waiting for its {flow['waiting_for']}")
    return ", ".join(parts) or "-"


def summary_view(summary: dict[str, Any]) -> RenderableType:
    """Engines and breaker, workers, jobs by state, the last hour's dispatch reasons, queues."""
    engines = summary["engines"]
    head = Table(title=f"jobrelay: {engines['status']}", show_header=False)
    head.add_column("what")
    head.add_column("value")
    dramatiq = engines["dramatiq"]
    head.add_row(
        "dramatiq",
        f"{'ready' if dramatiq['ready'] else 'not ready'} (redis {dramatiq['redis']}, "
        f"breaker {dramatiq['breaker']}, USE_DRAMATIQ {dramatiq['use_dramatiq']})",
    )
    head.add_row("temporal", "ready" if engines["temporal"]["ready"] else "not ready")
    head.add_row(
        "live workers", ", ".join(f"{k} {v}" for k, v in summary["workers"].items()) or "-"
    )
    head.add_row("jobs", ", ".join(f"{k} {v}" for k, v in summary["states"].items() if v) or "none")
    reasons = summary["dispatch_reasons"]
    share = summary.get("temporal_share")
    head.add_row(
        "last hour",
        (", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "no dispatches")
        + ("" if share is None else f"; {share:.0%} to Temporal"),
    )
    return Group(head, queues_table(summary["queues"]))


def schedules_table(views: list[dict[str, Any]]) -> Table:
    """One row per schedule: its rule, where it lives, next firing, last firing and its state."""
    table = Table(title=f"schedules: {len(views)}")
    for column in ("id", "job", "rule", "source", "paused", "next (UTC)", "last job", "state"):
        table.add_column(column)
    for view in views:
        schedule, state = view["schedule"], view["state"]
        table.add_row(
            schedule["id"],
            schedule.get("job") or "-",
            _rule(schedule),
            view["source"],
            "yes" if view["paused"] else "no",
            _when(view["next_ticks"][0]) if view["next_ticks"] else "-",
            state.get("last_job") or "-",
            view.get("last_job_state") or "-",
        )
    return table


def schedule_view(view: dict[str, Any]) -> RenderableType:
    """One schedule: every field, its next firings and what the schedulers remember."""
    schedule, state = view["schedule"], view["state"]
    fields = Table(title=f"schedule {schedule['id']} ({view['source']})", show_header=False)
    fields.add_column("field")
    fields.add_column("value")
    fields.add_row("job", schedule.get("job") or "-")
    fields.add_row("rule", _rule(schedule))
    fields.add_row("payload", json.dumps(schedule.get("payload", {}))[:200])
    for key in ("overlap", "catchup", "catchup_window", "jitter", "start", "end"):
        fields.add_row(key, str(schedule.get(key) if schedule.get(key) is not None else "-"))
    fields.add_row("paused", "yes" if view["paused"] else "no")
    fields.add_row("next (UTC)", ", ".join(_when(t) for t in view["next_ticks"]) or "-")
    fields.add_row("last tick handled", _when(state.get("last")))
    fields.add_row(
        "last job", f"{state.get('last_job') or '-'} ({view.get('last_job_state') or '-'})"
    )
    fields.add_row("fired / skipped", f"{state.get('fired', 0)} / {state.get('skipped', 0)}")
    return fields


def _rule(schedule: dict[str, Any]) -> str:
    if schedule.get("cron"):
        return f"cron {schedule['cron']} ({schedule.get('tz', 'UTC')})"
    return f"every {schedule.get('every')}"


def _when(value: str | float | None) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
