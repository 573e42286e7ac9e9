from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class JobState(StrEnum):
    """The states of a job record, on either engine; every other set of states derives from it.

    queued -> running (<-> sleeping) -> succeeded | failed | cancelled | dead;
    a retried attempt goes back to queued.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SLEEPING = "sleeping"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DEAD = "dead"

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.DEAD})
FINISHED_STATES: frozenset[str] = frozenset(s.value for s in _FINISHED)


# The finished states an operator may run again: all but a success.
RETRYABLE_STATES: frozenset[str] = frozenset(
    s.value for s in (JobState.FAILED, JobState.DEAD, JobState.CANCELLED)
)


def finished_lua(var: str) -> str:
    """A Lua expression, true when the state string in local ``var`` is a finished one.

    Every script guard is built from it (or :func:`retryable_lua`), so the
    scripts and :class:`JobState` cannot disagree.
    """
    return _any_of(var, FINISHED_STATES)


def retryable_lua(var: str) -> str:
    """A Lua expression, true when the state string in local ``var`` may be retried."""
    return _any_of(var, RETRYABLE_STATES)


def _any_of(var: str, states: frozenset[str]) -> str:
    return "(" + " or ".join(f"{var} == '{state}'" for state in sorted(states)) + ")"


def hash_text(value: Any) -> str:
    """A field value as stored in the job hash: None is "", booleans "1"/"0", floats exact."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class JobRecord(BaseModel):
    """The ``job:{id}`` hash. ``payload`` and ``result`` hold JSON text."""

    job_id: str
    name: str
    queue: str
    state: JobState = JobState.QUEUED
    engine: str | None = None
    reason: str | None = None
    attempts: int = 0
    progress: int = 0
    message: str = ""
    payload: str = "{}"
    result: str | None = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    wake_at: float | None = None
    cancel_requested: bool = False
    extra: dict[str, str] = Field(default_factory=dict, exclude=True)

    def to_hash(self) -> dict[str, str]:
        """Flatten to Redis hash fields; ``None`` is stored as an empty string."""
        return {k: hash_text(v) for k, v in self.model_dump(exclude={"extra"}).items()}

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> JobRecord:
        """Rebuild a record from ``HGETALL``; unknown fields land in ``extra``."""
        fields: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for key, val in raw.items():
            if key in cls.model_fields:
                if val != "" or key in {"message", "payload"}:
                    fields[key] = val
            else:
                extra[key] = val
        if "cancel_requested" in fields:
            fields["cancel_requested"] = fields["cancel_requested"] == "1"
        return cls(**fields, extra=extra)


def new_record_fields(
    job_id: str, name: str, queue: str, *, engine: str, reason: str
) -> dict[str, str]:
    """The ``job:{id}`` hash of a new, queued job but its payload: a :class:`JobRecord`'s fields.

    The dispatcher writes it on every dispatch, so it is built directly
    (building the model costs more than the Redis call). Fields left out
    (attempts, progress, message, result...) read as their defaults in
    :meth:`JobRecord.from_hash`.
    """
    stamp = repr(time.time())
    return {
        "job_id": job_id,
        "name": name,
        "queue": queue,
        "state": JobState.QUEUED.value,
        "engine": engine,
        "reason": reason,
        "created_at": stamp,
        "updated_at": stamp,
    }
