"""In-memory engines for fast unit tests of dispatch decisions: no broker, no Temporal.

They implement the ``DramatiqEngine`` and ``TemporalEngine`` Protocols and
record what they were asked to do. Integration tests use the real adapters.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from jobrelay.engines import EngineJob
from jobrelay.queue import JobState


@dataclass
class MemoryDramatiq:
    """Keeps enqueued jobs in a list; ``fail`` makes the next enqueues raise it."""

    sent: list[tuple[EngineJob, float | None]] = field(default_factory=list)
    fail: BaseException | None = None

    def enqueue(self, job: EngineJob, *, delay_s: float | None = None) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append((job, delay_s))

    def remove_dead_letters_of(self, queue: str, job_ids: Collection[str]) -> int:
        """No dead letters here: none to delete."""
        return 0

    @property
    def job_ids(self) -> list[str]:
        return [job.job_id for job, _ in self.sent]


@dataclass
class MemoryWorkflow:
    job: EngineJob
    delay_s: float | None
    state: str = JobState.RUNNING
    starts: int = 1


@dataclass
class MemoryTemporal:
    """Workflows by id, started with USE_EXISTING semantics; ``fail`` makes calls raise it."""

    workflows: dict[str, MemoryWorkflow] = field(default_factory=dict)
    fail: BaseException | None = None
    start_calls: int = 0

    async def start(
        self, job: EngineJob, *, delay_s: float | None = None, rerun: bool = False
    ) -> None:
        self.start_calls += 1
        if self.fail is not None:
            raise self.fail
        existing = self.workflows.get(job.job_id)
        if existing is not None and (existing.state == JobState.RUNNING or not rerun):
            # Running: left alone. Closed: the job ran, unless this is a retry.
            existing.starts += 1
            return
        self.workflows[job.job_id] = MemoryWorkflow(job, delay_s)

    async def healthy(self) -> bool:
        return self.fail is None

    async def describe(self, job_id: str) -> dict[str, Any] | None:
        if self.fail is not None:
            raise self.fail
        wf = self.workflows.get(job_id)
        if wf is None:
            return None
        return {"state": wf.state, "name": wf.job.name, "queue": wf.job.queue}

    async def cancel(self, job_id: str) -> bool:
        if self.fail is not None:
            raise self.fail
        wf = self.workflows.get(job_id)
        if wf is None or wf.state != JobState.RUNNING:
            return False
        wf.state = JobState.CANCELLED
        return True
