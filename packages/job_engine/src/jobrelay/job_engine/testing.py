"""An in-memory engine for unit tests of job bodies: no Redis, no Temporal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .base_context import BaseJobContext
from .errors import JobCancelled
from .registry import get_job
from .runner import execute
from .steps import call_step, step_ref


class LocalContext(BaseJobContext):
    """Runs steps inline and sleeps on a virtual clock; records what happened."""

    def __init__(self, job_id: str = "local", *, now: datetime | None = None) -> None:
        super().__init__(job_id, attempt=1, engine="local")
        self.now = now or datetime.now(UTC)
        self.steps: list[str] = []
        self.sleeps: list[tuple[str, float]] = []
        self.progress_reports: list[tuple[int, str]] = []
        self.cancel_requested = False

    @property
    def cancelled(self) -> bool:
        return self.cancel_requested

    def progress(self, percent: int, message: str = "") -> None:
        self.progress_reports.append((percent, message))

    async def _run_step(self, step_id: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        if self.cancel_requested:
            raise JobCancelled(f"job {self.job_id} cancelled before step {step_id!r}")
        # The engines find steps by module:qualname; refuse what they could not.
        step_ref(fn)
        self.steps.append(step_id)
        return await call_step(fn, args)

    async def _sleep(self, step_id: str, seconds: float | None, until: datetime | None) -> None:
        target = until if until is not None else self.now + timedelta(seconds=seconds or 0)
        self.sleeps.append((step_id, max(0.0, (target - self.now).total_seconds())))
        self.now = max(self.now, target)


async def run_local(name: str, payload: Any, ctx: LocalContext | None = None) -> Any:
    """Run registered job ``name`` in-process with a :class:`LocalContext`."""
    return await execute(get_job(name), ctx or LocalContext(), payload)
