from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .errors import JobDefinitionError
from .schedules import scheduled_at_of

logger = logging.getLogger("jobrelay.job")


class BaseJobContext(ABC):
    """Engine-neutral parts of a :class:`JobContext`; each adapter fills in the rest.

    Checks that step ids are unique within one run, turns ``sleep`` into the
    adapter's one sleep primitive, and tags log lines with the job id.
    """

    def __init__(self, job_id: str, attempt: int, engine: str) -> None:
        self._job_id = job_id
        self._attempt = attempt
        self._engine = engine
        self._seen_steps: set[str] = set()

    @property
    def job_id(self) -> str:
        return self._job_id

    @property
    def attempt(self) -> int:
        return self._attempt

    @property
    def engine(self) -> str:
        return self._engine

    @property
    def scheduled_at(self) -> datetime | None:
        return scheduled_at_of(self._job_id)

    @property
    @abstractmethod
    def cancelled(self) -> bool: ...

    async def run(self, step_id: str, fn: Callable[..., Any], *args: Any) -> Any:
        self._claim_step_id(step_id)
        return await self._run_step(step_id, fn, args)

    async def sleep(self, step_id: str, duration: timedelta | float) -> None:
        seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
        if seconds < 0:
            raise ValueError(f"sleep {step_id!r}: negative duration {seconds}")
        self._claim_step_id(step_id)
        await self._sleep(step_id, seconds, None)

    async def sleep_until(self, step_id: str, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError(f"sleep_until {step_id!r}: {when} has no timezone")
        self._claim_step_id(step_id)
        await self._sleep(step_id, None, when)

    @abstractmethod
    def progress(self, percent: int, message: str = "") -> None: ...

    def log(self, message: str, **fields: Any) -> None:
        logger.info(
            message,
            extra={
                "job_id": self._job_id,
                "engine": self._engine,
                "attempt": self._attempt,
                **fields,
            },
        )

    @abstractmethod
    async def _run_step(self, step_id: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Run or replay one step."""

    @abstractmethod
    async def _sleep(self, step_id: str, seconds: float | None, until: datetime | None) -> None:
        """Sleep ``seconds`` or until ``until`` (exactly one is set)."""

    def _claim_step_id(self, step_id: str) -> None:
        if not step_id:
            raise JobDefinitionError("step id must be a non-empty string")
        if step_id in self._seen_steps:
            raise JobDefinitionError(f"step id {step_id!r} used twice in job {self._job_id}")
        self._seen_steps.add(step_id)
