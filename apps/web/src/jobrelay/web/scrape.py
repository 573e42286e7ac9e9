"""What Redis holds, as Prometheus metrics read at each scrape: queues, jobs and outcomes.

Built in a registry of its own per scrape: the values are Redis's, shared by
every replica of the web app, not this process's (a scrape of any replica
gives the same numbers).
"""

from __future__ import annotations

from typing import Any

from jobrelay.queue import QUEUES
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from .queue_stats import read_queues


def redis_metrics(dispatcher: Any) -> bytes:
    """The exposition text; blocking (call it in a thread). Raises ``RedisUnavailable``."""
    views = read_queues(dispatcher, list(QUEUES))
    outcomes = dispatcher.index.outcomes()
    registry = CollectorRegistry()
    messages = Gauge(
        "jobrelay_queue_messages",
        "Dramatiq messages of a queue by kind (ready, delayed, dead).",
        ["queue", "kind"],
        registry=registry,
    )
    jobs = Gauge(
        "jobrelay_queue_jobs",
        "Jobs of a queue on either engine by state: queued, running, sleeping.",
        ["queue", "state"],
        registry=registry,
    )
    oldest = Gauge(
        "jobrelay_queue_oldest_waiting_seconds",
        "Age of the oldest job of a queue still waiting to start (0 when none waits).",
        ["queue"],
        registry=registry,
    )
    workers = Gauge(
        "jobrelay_queue_live_workers",
        "Workers of a queue that beat within the heartbeat TTL, by engine.",
        ["queue", "engine"],
        registry=registry,
    )
    paused = Gauge(
        "jobrelay_queue_paused",
        "1 while an operator paused the queue.",
        ["queue"],
        registry=registry,
    )
    waiting = Gauge(
        "jobrelay_flow_waiting_jobs",
        "Jobs told to wait for a concurrency slot (flow control), by queue and job.",
        ["queue", "job"],
        registry=registry,
    )
    throttled = Gauge(
        "jobrelay_flow_throttled_jobs",
        "Jobs told to wait for their turn under a rate limit, by queue and job.",
        ["queue", "job"],
        registry=registry,
    )
    finished = Counter(
        "jobrelay_jobs_finished",
        "Jobs that finished, by queue, engine and outcome (succeeded, failed, cancelled, dead).",
        ["queue", "engine", "state"],
        registry=registry,
    )
    for view in views:
        for kind in ("ready", "delayed", "dead"):
            messages.labels(view.name, kind).set(getattr(view, kind))
        for state in ("queued", "running", "sleeping"):
            jobs.labels(view.name, state).set(getattr(view, state))
        oldest.labels(view.name).set(view.oldest_waiting_s or 0.0)
        for engine, count in view.live_workers.items():
            workers.labels(view.name, engine).set(count)
        paused.labels(view.name).set(1 if view.paused else 0)
        for flow in view.flow:
            waiting.labels(view.name, flow.job).set(flow.waiting)
            throttled.labels(view.name, flow.job).set(flow.throttled)
    for (queue, engine, state), count in sorted(outcomes.items()):
        finished.labels(queue, engine or "unknown", state).inc(count)
    return generate_latest(registry)
