from __future__ import annotations

from dataclasses import dataclass

from .constants import DEFAULT_PREFIX, QUEUE_DATA_SYNC, QUEUE_DEFAULT, QUEUE_SCHEDULED, Keys
from .errors import UnknownQueue


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One queue: how many jobs a worker runs at once, how long one may take,
    and the default retry policy of jobs that do not set their own."""

    name: str
    concurrency: int
    time_limit_s: float
    max_retries: int
    min_backoff_s: float
    max_backoff_s: float
    description: str = ""

    def task_queue(self, prefix: str = DEFAULT_PREFIX) -> str:
        """The Temporal task queue that serves this queue under ``prefix``."""
        return Keys(prefix).task_queue(self.name)


QUEUES: dict[str, QueueSpec] = {
    spec.name: spec
    for spec in (
        QueueSpec(
            QUEUE_DEFAULT,
            concurrency=16,
            time_limit_s=60,
            max_retries=5,
            min_backoff_s=1,
            max_backoff_s=60,
            description="short I/O-bound jobs",
        ),
        QueueSpec(
            QUEUE_DATA_SYNC,
            concurrency=2,
            time_limit_s=3600,
            max_retries=3,
            min_backoff_s=5,
            max_backoff_s=600,
            description="long data synchronisation",
        ),
        QueueSpec(
            QUEUE_SCHEDULED,
            concurrency=8,
            time_limit_s=300,
            max_retries=5,
            min_backoff_s=1,
            max_backoff_s=300,
            description="delayed and sleeping jobs",
        ),
    )
}


def get_queue(name: str) -> QueueSpec:
    """Return the spec of queue ``name``; :class:`UnknownQueue` lists the valid names."""
    try:
        return QUEUES[name]
    except KeyError:
        raise UnknownQueue(
            f"unknown queue {name!r}; expected one of {', '.join(sorted(QUEUES))}"
        ) from None
