"""Schedules fired exactly once per tick, on either engine, by any number of schedulers."""

from jobrelay.job_engine import JobrelayError

from .admin import MAX_BACKFILL, ScheduleAdmin, ScheduleView
from .errors import InvalidSchedule, ScheduleConflict, ScheduleNotFound, SchedulerError
from .firing import Firing, fire, unfinished
from .plan import due_ticks, fire_at, handled_until
from .scheduler import Scheduler
from .store import ScheduleState, ScheduleStore

__all__ = [
    "Scheduler",
    "ScheduleStore",
    "ScheduleState",
    "ScheduleAdmin",
    "ScheduleView",
    "MAX_BACKFILL",
    "Firing",
    "fire",
    "unfinished",
    "due_ticks",
    "handled_until",
    "fire_at",
    # Errors
    "JobrelayError",
    "SchedulerError",
    "ScheduleNotFound",
    "ScheduleConflict",
    "InvalidSchedule",
]
