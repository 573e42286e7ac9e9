from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

T = TypeVar("T")


@runtime_checkable
class JobContext(Protocol):
    """What a job body may use. Adapters implement it once per engine.

    All I/O goes through :meth:`run`: each step runs at most once to
    completion per job, whichever engine runs it and however often the job
    is retried or redelivered.
    """

    @property
    def job_id(self) -> str: ...

    @property
    def attempt(self) -> int: ...

    @property
    def engine(self) -> str: ...

    @property
    def scheduled_at(self) -> datetime | None:
        """The tick a schedule fired this job for (UTC); None when no schedule fired it."""
        ...

    @property
    def cancelled(self) -> bool: ...

    @overload
    async def run(self, step_id: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T: ...

    @overload
    async def run(self, step_id: str, fn: Callable[..., T], *args: Any) -> T: ...

    async def run(self, step_id: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run step ``fn(*args)`` once and return its (memoised) result."""
        ...

    async def sleep(self, step_id: str, duration: timedelta | float) -> None:
        """Pause durably for ``duration`` (seconds when a number)."""
        ...

    async def sleep_until(self, step_id: str, when: datetime) -> None:
        """Pause durably until ``when`` (timezone-aware)."""
        ...

    def progress(self, percent: int, message: str = "") -> None:
        """Report progress; readable from the job status while the job runs."""
        ...

    def log(self, message: str, **fields: Any) -> None:
        """Write a structured log line tagged with the job id."""
        ...
