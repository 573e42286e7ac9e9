"""Test-only reads and writes of a job store's keys, below its public operations.

Tests use them to set a record up in a given state or to look at what the
ownership protocol left behind; production code has no use for them, so they
live here rather than on ``JobStore``. (``tests/support`` is on ``sys.path``.)
"""

from __future__ import annotations

import time

from jobrelay.queue import JobState, JobStore


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def overdue(store: JobStore, *, now: float) -> list[str]:
    """Job ids in the pending set whose deadline (or lease) is before ``now``."""
    ids: list[bytes | str] = store.client.zrangebyscore(store.keys.pending, "-inf", now)  # type: ignore[assignment]
    return [_text(i) for i in ids]


def add_pending(store: JobStore, job_id: str, deadline: float) -> None:
    """Put ``job_id`` in the pending set as if a dispatch were watching it until ``deadline``."""
    store.client.zadd(store.keys.pending, {job_id: deadline})


def load_steps(store: JobStore, job_id: str) -> dict[str, str]:
    """Every stored step result of ``job_id``, as JSON text by step id."""
    raw = store.client.hgetall(store.keys.steps(job_id))
    return {_text(k): _text(v) for k, v in raw.items()}


def mark_running(store: JobStore, job_id: str, *, attempt: int, engine: str) -> bool:
    """Set an unfinished record running as attempt ``attempt`` on ``engine``."""
    fields: dict[str, object] = {
        "state": JobState.RUNNING,
        "attempts": attempt,
        "engine": engine,
        "wake_at": None,
    }
    if not store.client.hget(store.keys.job(job_id), "started_at"):
        fields["started_at"] = time.time()
    return store.update(job_id, **fields)
