"""The two small interfaces the dispatcher needs from the engines."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from .job import EngineJob


class DramatiqEngine(Protocol):
    """Sends jobs to Dramatiq. Record creation and ownership are the dispatcher's."""

    def enqueue(self, job: EngineJob, *, delay_s: float | None = None) -> None:
        """Put one message for ``job`` on its queue (raises RedisUnavailable)."""
        ...

    def remove_dead_letters_of(self, queue: str, job_ids: Collection[str]) -> int:
        """Delete the dead letters of these jobs on ``queue``; how many went."""
        ...


class TemporalEngine(Protocol):
    """Starts, inspects and cancels the job workflow on Temporal."""

    async def start(
        self, job: EngineJob, *, delay_s: float | None = None, rerun: bool = False
    ) -> None:
        """Start the workflow with id ``job.job_id`` (USE_EXISTING on conflict).

        A closed workflow of that id means the job already ran, and nothing
        starts; with ``rerun`` (a retried job) a new run starts after it.
        """
        ...

    async def describe(self, job_id: str) -> dict[str, Any] | None:
        """Workflow state/progress/result for ``job_id``, or None if there is no workflow."""
        ...

    async def cancel(self, job_id: str) -> bool:
        """Request cancellation; False when there is no such running workflow."""
        ...

    async def healthy(self) -> bool:
        """Whether the server answers its health check now (False, never an error)."""
        ...
