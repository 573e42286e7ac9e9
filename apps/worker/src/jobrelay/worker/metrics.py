"""Prometheus metrics of ``jobrelay-worker run``, served by the supervisor.

Each queue process counts its own messages; prometheus-client's
multiprocess mode keeps the counts in files under one directory, and the
supervisor serves their sum on ``WORKER_METRICS_PORT``. One scrape target
per host then covers every queue, and a crashed child's counts survive it.
Multiprocess mode is chosen when prometheus-client is first imported, so
:func:`prepare_multiprocess` must run before anything imports it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy
from dramatiq.common import q_name

from .stats import ended

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess() -> Path:
    """Give this process and its children an empty metrics directory.

    Uses ``PROMETHEUS_MULTIPROC_DIR`` when set (emptied of an earlier run's
    files), else a new temporary directory.
    """
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before multiprocess mode was set up")
    configured = os.environ.get(MULTIPROC_ENV)
    path = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="jobrelay-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def serve(port: int) -> None:
    """Serve the sum of every process's metrics on ``port`` (a daemon thread)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, registry=registry)


def process_exited(pid: int) -> None:
    """Drop a dead child's live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class JobMetrics(Middleware):
    """Counts, times and tracks in flight every job delivery a worker process handles."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        # registry=None: in multiprocess mode the values live in the files the
        # supervisor reads, and a second instance (tests) must not clash.
        self.jobs = Counter(
            "jobrelay_worker_jobs",
            "Job deliveries handled, by queue and how they ended (succeeded, failed,"
            " dead, cancelled, retrying, sleeping, dropped).",
            ["queue", "outcome"],
            registry=None,
        )
        self.seconds = Histogram(
            "jobrelay_worker_job_seconds",
            "Time a worker spent on one delivery of a job.",
            ["queue"],
            registry=None,
        )
        self.in_flight = Gauge(
            "jobrelay_worker_jobs_in_flight",
            "Job deliveries being processed now.",
            ["queue"],
            multiprocess_mode="livesum",
            registry=None,
        )
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        with self._lock:
            self._started[id(message)] = time.perf_counter()
        self.in_flight.labels(q_name(message.queue_name)).inc()

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        began = self._end(message)
        if began is not None:
            self.seconds.labels(q_name(message.queue_name)).observe(time.perf_counter() - began)
        self.jobs.labels(q_name(message.queue_name), ended(message, exception)).inc()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self._end(message)

    def _end(self, message: MessageProxy) -> float | None:
        with self._lock:
            began = self._started.pop(id(message), None)
        if began is not None:
            self.in_flight.labels(q_name(message.queue_name)).dec()
        return began
