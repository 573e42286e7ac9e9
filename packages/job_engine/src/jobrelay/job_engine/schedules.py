"""Recurring jobs: a :class:`Schedule` says when a job fires; its ticks are pure arithmetic.

A tick is an instant (timezone-aware UTC). Firing tick ``t`` of schedule
``s`` dispatches the job with the id ``schedule:<s>:<epoch seconds of t>``
(:func:`tick_job_id`), so every scheduler process that fires the same tick
asks for the same job id and both engines keep one run of it. The job's
context reads the tick back from that id (:func:`scheduled_at_of`).

Cron expressions are read by ``cronsim`` (five fields, Debian cron's
handling of daylight saving time: a wall-clock time skipped by a spring
change fires at the first instant after it, a time repeated by an autumn
change fires once).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Overlap = Literal["skip", "allow", "buffer_one"]
Catchup = Literal["latest", "all", "none"]

SCHEDULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,99}$"
_TICK_ID = re.compile(r"^schedule:([A-Za-z0-9][A-Za-z0-9._\-]{0,99}):(\d{1,12})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Schedule(BaseModel):
    """When a job fires on its own: a ``cron`` expression or a period (``every``).

    Declared in code with ``@job(..., schedules=[Schedule(...)])`` (``job`` is
    then the decorated job's name), or at run time through the API, where
    ``job`` names the job. Invalid values raise pydantic's ``ValidationError``
    naming the field (a bad cron, an unknown timezone, ``every`` <= 0).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=SCHEDULE_ID_PATTERN, description="unique among all schedules")
    job: str | None = Field(None, min_length=1, max_length=200)
    cron: str | None = Field(None, min_length=1, max_length=200, description="five fields")
    every: timedelta | None = Field(None, description="a period: seconds or a timedelta")
    tz: str = Field("UTC", description="IANA name the cron fields are read in")
    payload: dict[str, Any] = Field(default_factory=dict)
    overlap: Overlap = "skip"
    """``skip`` a tick while the previous firing is unfinished; ``allow`` it;
    ``buffer_one``: keep the latest such tick and fire it when the previous ends."""
    catchup: Catchup = "latest"
    """After downtime: fire the ``latest`` missed tick once, ``all`` missed ticks
    within ``catchup_window``, or ``none``."""
    catchup_window: timedelta = timedelta(hours=1)
    jitter: timedelta = timedelta(0)
    """Each tick fires up to this much after its instant (the same delay in every
    scheduler: it is derived from the schedule and the tick)."""
    start: datetime | None = None
    end: datetime | None = None
    paused: bool = False

    @field_validator("every")
    @classmethod
    def _whole_seconds(cls, value: timedelta | None) -> timedelta | None:
        if value is None:
            return None
        if value <= timedelta(0):
            raise ValueError("must be more than 0 seconds")
        if value.total_seconds() != int(value.total_seconds()):
            raise ValueError("must be a whole number of seconds")
        return value

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r} (an IANA name such as Europe/Paris)"
            ) from None
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value.split()) != 5:
            raise ValueError("a cron expression has five fields: minute hour day month weekday")
        try:
            CronSim(value, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise ValueError(f"not a cron expression: {exc}") from None
        return value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a timezone (e.g. 2026-01-01T00:00:00Z)")
        return value

    @field_validator("catchup_window", "jitter")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @model_validator(mode="after")
    def _one_rule(self) -> Schedule:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron and every")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def ticks(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """The ticks ``t`` with ``after < t <= until``, oldest first, in UTC.

        ``start`` and ``end`` bound them (inclusive).
        """
        low = after if self.start is None else max(after, self.start - timedelta(microseconds=1))
        high = until if self.end is None else min(until, self.end)
        if high <= low:
            return
        if self.every is not None:
            period = int(self.every.total_seconds())
            anchor = self.start or _EPOCH
            n = int((low - anchor).total_seconds() // period) + 1
            while True:
                tick = anchor + timedelta(seconds=n * period)
                if tick > high:
                    return
                if tick > low:
                    yield tick.astimezone(UTC)
                n += 1
        else:
            assert self.cron is not None
            zone = ZoneInfo(self.tz)
            for tick in CronSim(self.cron, low.astimezone(zone)):
                if tick > high:
                    return
                if tick > low:
                    yield tick.astimezone(UTC)

    def next_tick(
        self, after: datetime, horizon: timedelta = timedelta(days=400)
    ) -> datetime | None:
        """The first tick after ``after`` (None when ``end`` passed or none within ``horizon``)."""
        return next(self.ticks(after, after + horizon), None)

    def last_tick(self, at: datetime) -> datetime | None:
        """The latest tick at or before ``at``; None when there is none (before ``start``)."""
        if self.end is not None and at > self.end:
            at = self.end
        if self.every is not None:
            period = int(self.every.total_seconds())
            anchor = self.start or _EPOCH
            n = int((at - anchor).total_seconds() // period)
            tick = anchor + timedelta(seconds=n * period)
        else:
            assert self.cron is not None
            zone = ZoneInfo(self.tz)
            # cronsim's reverse walk is strictly before its start: one second on
            # from ``at`` makes a tick at ``at`` itself count.
            tick = next(CronSim(self.cron, (at + timedelta(seconds=1)).astimezone(zone), True))
        if self.start is not None and tick < self.start:
            return None
        return tick.astimezone(UTC)

    def delay_of(self, tick: datetime) -> float:
        """Seconds after ``tick`` it fires: a share of ``jitter`` fixed by schedule and tick."""
        if not self.jitter:
            return 0.0
        digest = hashlib.sha256(f"{self.id}:{tick_epoch(tick)}".encode()).digest()
        share = int.from_bytes(digest[:8], "big") / 2**64
        return share * self.jitter.total_seconds()


def tick_epoch(tick: datetime) -> int:
    """A tick's whole epoch seconds (ticks fall on whole seconds)."""
    return int(tick.timestamp())


def tick_job_id(schedule_id: str, tick: datetime) -> str:
    """The job id of a firing: the same for every scheduler that fires this tick."""
    return f"schedule:{schedule_id}:{tick_epoch(tick)}"


def scheduled_at_of(job_id: str) -> datetime | None:
    """The tick a job was fired for, read from its id; None for a job no schedule fired."""
    found = _TICK_ID.match(job_id)
    if found is None:
        return None
    return datetime.fromtimestamp(int(found.group(2)), UTC)


def schedule_of(job_id: str) -> str | None:
    """The id of the schedule that fired ``job_id``, None for a job no schedule fired."""
    found = _TICK_ID.match(job_id)
    return None if found is None else found.group(1)
