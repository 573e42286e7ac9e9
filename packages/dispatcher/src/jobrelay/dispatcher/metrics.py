"""Prometheus metrics of dispatching, in prometheus-client's default registry.

Where jobs went and why is the number to watch in a system built to fall
back: a rising share of ``engine="temporal"`` means Redis or the Dramatiq
workers are in trouble. Any app that dispatches can serve these; the web
app does on ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Histogram

from .models import DispatchReceipt

DISPATCHED = Counter(
    "jobrelay_dispatch",
    "Jobs handed to an engine, by queue, engine and reason (ok on Dramatiq; why otherwise).",
    ["queue", "engine", "reason"],
)
UNAVAILABLE = Counter(
    "jobrelay_dispatch_unavailable",
    "Dispatches that neither engine accepted, by queue and why Dramatiq was not used.",
    ["queue", "reason"],
)
SECONDS = Histogram(
    "jobrelay_dispatch_seconds",
    "Time a dispatch took, by the engine that got the job.",
    ["engine"],
    # A Dramatiq dispatch takes a fraction of a millisecond; a Temporal start, milliseconds.
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def dispatched(queue: str, receipt: DispatchReceipt, seconds: float) -> None:
    """Count a job some engine accepted."""
    DISPATCHED.labels(queue, receipt.engine, receipt.reason.value).inc()
    SECONDS.labels(receipt.engine).observe(seconds)


def batch_dispatched(counts: Mapping[tuple[str, str, str], int], seconds: float) -> None:
    """Count the jobs of one batch, per (queue, engine, reason).

    The histogram gets the batch's time once per engine that took some of
    its jobs: it is the time of a dispatch call, as for single dispatches.
    """
    for (queue, engine, reason), n in counts.items():
        DISPATCHED.labels(queue, engine, reason).inc(n)
    for engine in {engine for _, engine, _ in counts}:
        SECONDS.labels(engine).observe(seconds)


def unavailable(queue: str, reason: str) -> None:
    """Count a job no engine accepted."""
    UNAVAILABLE.labels(queue, reason).inc()
