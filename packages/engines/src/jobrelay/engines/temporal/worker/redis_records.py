"""Activity-side writes to the Redis job record (blocking; callers run them in a thread)."""

from __future__ import annotations

from typing import Any, NamedTuple

from jobrelay.queue import ENGINE_TEMPORAL, JobRecord, JobState, JobStore, dumps

from ...job import EngineJob
from ..models import FinishInput, RecordUpdate


class Claimed(NamedTuple):
    """What :meth:`RecordWriter.ensure` found."""

    owner: str | None
    """The engine owning the job after the claim."""
    finished: bool
    """The record had finished already (an earlier run): nothing to do."""


class RecordWriter:
    """Creates, claims and updates one store's job records for Temporal runs.

    Every method raises ``RedisUnavailable`` when Redis does not answer; the
    activities decide whether that matters.
    """

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def ensure(self, job: EngineJob, *, attempts: int) -> Claimed:
        """Claim ``temporal`` and start attempt ``attempts``, creating the record if absent.

        One round trip when the record exists (the dispatcher wrote it); a
        job dispatched while Redis was down has none yet and costs three.
        """
        started = self.store.claim_and_start(job.job_id, ENGINE_TEMPORAL, attempt=attempts)
        if started.state is None:
            record = JobRecord(
                job_id=job.job_id,
                name=job.name,
                queue=job.queue,
                engine=ENGINE_TEMPORAL,
                payload=dumps(job.payload),
            )
            self.store.create(record)
            started = self.store.claim_and_start(job.job_id, ENGINE_TEMPORAL, attempt=attempts)
        finished = started.state is not None and started.state.finished
        return Claimed(started.owner, finished)

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
