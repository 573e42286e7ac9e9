"""Errors raised by ``jobrelay.scheduler``, under jobrelay's one root.

JobrelayError                   (jobrelay.job_engine)
└── SchedulerError
    ├── ScheduleNotFound        no schedule, in code or at run time, has this id
    ├── ScheduleConflict        the id is taken, or the schedule is declared in code
    └── InvalidSchedule         a field of a schedule or of a backfill cannot be used
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobrelay.job_engine import JobrelayError

__all__ = ["InvalidSchedule", "ScheduleConflict", "ScheduleNotFound", "SchedulerError"]


class SchedulerError(JobrelayError):
    """Base class of every error raised by jobrelay.scheduler."""


class ScheduleNotFound(SchedulerError, LookupError):
    """Raised when no schedule, declared in code or made at run time, has the id."""

    def __init__(self, schedule_id: str) -> None:
        self.schedule_id = schedule_id
        super().__init__(f"no schedule with id {schedule_id!r}")


class ScheduleConflict(SchedulerError):
    """Raised when a new schedule's id is taken, or a change targets a schedule declared in
    code (change it there)."""

    def __init__(self, schedule_id: str, why: str) -> None:
        self.schedule_id = schedule_id
        super().__init__(f"schedule {schedule_id!r}: {why}")


class InvalidSchedule(SchedulerError, ValueError):
    """Raised when a field of a schedule or of a backfill cannot be used; ``errors`` name
    each field (``loc``) and why (``msg``)."""

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        self.errors = list(errors)
        first = self.errors[0] if self.errors else {"loc": (), "msg": "invalid"}
        super().__init__(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
