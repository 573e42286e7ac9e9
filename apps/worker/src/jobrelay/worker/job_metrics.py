"""The Dramatiq middleware behind ``jobrelay-worker run``'s job metrics."""

from __future__ import annotations

import threading
import time
from typing import Any

from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy
from dramatiq.common import q_name
from jobrelay.engines.dramatiq.worker import ended
from prometheus_client import Counter, Gauge, Histogram


class JobMetrics(Middleware):
    """Counts, times and tracks in flight every job delivery a worker process handles."""

    def __init__(self) -> None:
        # registry=None: in multiprocess mode the values live in the files the
        # supervisor reads, and a second instance (tests) must not clash.
        self.jobs = Counter(
            "jobrelay_worker_jobs",
            "Job deliveries handled, by queue and how they ended (succeeded, failed,"
            " dead, cancelled, retrying, sleeping, dropped, requeued).",
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
        queue = q_name(message.queue_name)
        began = self._end(message, queue)
        if began is not None:
            self.seconds.labels(queue).observe(time.perf_counter() - began)
        self.jobs.labels(queue, ended(message, exception)).inc()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self._end(message, q_name(message.queue_name))

    def _end(self, message: MessageProxy, queue: str) -> float | None:
        with self._lock:
            began = self._started.pop(id(message), None)
        if began is not None:
            self.in_flight.labels(queue).dec()
        return began
