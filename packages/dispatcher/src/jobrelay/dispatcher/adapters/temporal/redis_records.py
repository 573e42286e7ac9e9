"""Activity-side writes to the Redis job record (blocking; callers run them in a thread)."""

from __future__ import annotations

from typing import Any

from jobrelay.queue import ENGINE_TEMPORAL, JobRecord, JobState, JobStore, dumps

from .models import FinishInput, JobInput, RecordUpdate


class RecordWriter:
    """Creates, claims and updates one store's job records for Temporal runs.

    Every method raises ``RedisUnavailable`` when Redis does not answer; the
    activities decide whether that matters.
    """

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def ensure(self, job: JobInput, *, attempts: int) -> str:
        """Create the record if absent, claim ``temporal``; returns the owner after the claim."""
        record = JobRecord(
            job_id=job.job_id,
            name=job.name,
            queue=job.queue,
            engine=ENGINE_TEMPORAL,
            payload=dumps(job.payload),
        )
        self.store.create(record)
        owner = self.store.claim(job.job_id, ENGINE_TEMPORAL)
        if owner == ENGINE_TEMPORAL:
            self.store.mark_running(job.job_id, attempt=attempts, engine=ENGINE_TEMPORAL)
        return owner

    def finished(self, job_id: str) -> bool:
        """Whether the record of ``job_id`` is in a finished state."""
        record = self.store.get(job_id)
        return record is not None and record.state.finished

    def apply(self, job_id: str, update: RecordUpdate) -> None:
        """Write the fields ``update`` sets."""
        fields: dict[str, Any] = update.model_dump(exclude_none=True)
        if update.state == JobState.RUNNING:
            fields["wake_at"] = None  # awake again
        if fields:
            self.store.update(job_id, **fields)

    def finish(self, job_id: str, finish: FinishInput) -> None:
        """Move the record to its final state (the first outcome wins)."""
        self.store.finish(job_id, JobState(finish.state), result=finish.result, error=finish.error)
