"""Build a :class:`JobStatus` from a Redis record or a Temporal description."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobrelay.queue import JobRecord, JobState, loads

from .models import JobStatus, Reason, utc

_STATES = frozenset(JobState)
_ENGINES = {"dramatiq", "temporal"}


def status_from_record(record: JobRecord) -> JobStatus:
    """The status a Redis job record tells."""
    result: Any = None
    if record.result:
        try:
            result = loads(record.result)
        except ValueError:
            result = record.result
    return JobStatus(
        job_id=record.job_id,
        name=record.name,
        queue=record.queue,
        engine=record.engine if record.engine in _ENGINES else None,
        state=record.state,
        attempts=record.attempts,
        progress=record.progress,
        message=record.message,
        result=result,
        error=record.error,
        reason=_reason(record.reason),
        created_at=utc(record.created_at),
        updated_at=utc(record.updated_at),
        started_at=utc(record.started_at),
        finished_at=utc(record.finished_at),
    )


def status_from_description(job_id: str, desc: dict[str, Any]) -> JobStatus:
    """The status of a job only Temporal knows, from ``TemporalEngine.describe``."""
    state = str(desc.get("state") or "queued")
    return JobStatus(
        job_id=job_id,
        name=desc.get("name"),
        queue=desc.get("queue"),
        engine="temporal",
        state=JobState(state) if state in _STATES else JobState.QUEUED,
        attempts=int(desc.get("attempts") or 0),
        progress=int(desc.get("progress") or 0),
        message=str(desc.get("message") or ""),
        result=desc.get("result"),
        error=desc.get("error"),
        reason=_reason(desc.get("reason")),
        created_at=_time(desc.get("created_at")),
        updated_at=_time(desc.get("updated_at")),
        started_at=_time(desc.get("started_at")),
        finished_at=_time(desc.get("finished_at")),
    )


def _reason(value: object) -> Reason | None:
    try:
        return Reason(str(value)) if value else None
    except ValueError:
        return None


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return utc(float(value))
    return None
