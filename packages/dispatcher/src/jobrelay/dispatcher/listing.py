"""The operator's job list over both engines, read from the job index."""

from __future__ import annotations

import asyncio
from datetime import datetime

from jobrelay.queue import JobFilter, JobIndex, JobState, RedisHealth, RedisUnavailable
from pydantic import BaseModel

from .errors import IndexUnavailable, InvalidQuery
from .models import JobStatus
from .status import status_from_record

MAX_PAGE = 500
"""The most jobs one page of a list holds."""

_ENGINES = frozenset({"dramatiq", "temporal"})


class JobList(BaseModel):
    """One page of jobs, newest first; ``next_cursor`` fetches the next (None at the end)."""

    items: list[JobStatus]
    next_cursor: str | None = None


def job_filter(
    *,
    state: JobState | str | None = None,
    queue: str | None = None,
    name: str | None = None,
    engine: str | None = None,
    since: datetime | float | None = None,
    until: datetime | float | None = None,
) -> JobFilter:
    """A :class:`JobFilter` from an operator's arguments; :class:`InvalidQuery` names a bad one."""
    if state is not None and not isinstance(state, JobState):
        try:
            state = JobState(state)
        except ValueError:
            raise InvalidQuery("state", f"not a job state: {state!r}") from None
    if engine is not None and engine not in _ENGINES:
        raise InvalidQuery("engine", f"not an engine: {engine!r} (dramatiq or temporal)")
    low, high = _epoch("since", since), _epoch("until", until)
    if low is not None and high is not None and low > high:
        raise InvalidQuery("until", "must not be before since")
    return JobFilter(state=state, queue=queue, name=name, engine=engine, since=low, until=high)


class JobLister:
    """Pages of the job list. The index is read in a worker thread (blocking client)."""

    def __init__(self, index: JobIndex, health: RedisHealth) -> None:
        self.index = index
        self.health = health

    async def page(
        self, where: JobFilter, *, limit: int = 50, cursor: str | None = None
    ) -> JobList:
        """The jobs matching ``where``, newest first.

        Raises :class:`InvalidQuery` for a limit outside 1..500,
        ``InvalidCursor`` for a cursor no page returned and
        :class:`IndexUnavailable` when Redis does not answer.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_PAGE}, got {limit}")
        if not await self.health.ais_healthy():
            raise IndexUnavailable(f"Redis health check failed (breaker {self.health.state.value})")
        try:
            page = await asyncio.to_thread(self.index.page, where, limit=limit, cursor=cursor)
        except RedisUnavailable as exc:
            self.health.record_failure()
            raise IndexUnavailable(exc) from exc
        return JobList(
            items=[status_from_record(record) for record in page.records],
            next_cursor=page.next_cursor,
        )


def _epoch(field: str, value: datetime | float | None) -> float | None:
    if value is None or isinstance(value, float | int):
        return value
    if value.tzinfo is None:
        raise InvalidQuery(field, "a time needs its timezone (e.g. 2026-01-01T00:00:00Z)")
    return value.timestamp()
