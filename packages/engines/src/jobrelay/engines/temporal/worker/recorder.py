"""Workflow-side view of the job record: status for the query, writes for Redis.

Workflow code does no I/O, so Redis writes ride on activities: progress and
state changes wait in ``pending`` and go out with the next step (or at once
through the record activity before a sleep and at the end).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, JobState
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError, is_cancelled_exception

from ...flow import FlowPlan
from ...job import EngineJob
from ..models import (
    RECORD_ACTIVITY,
    FinishInput,
    RecordInput,
    RecordOutput,
    RecordUpdate,
    WorkflowStatus,
)

RECORD_TIMEOUT = timedelta(seconds=10)
# Redis is not the source of truth: a few quick tries, then the workflow moves on.
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=300),
    maximum_interval=timedelta(seconds=1),
    maximum_attempts=3,
)


class DuplicateRun(Exception):
    """Raised when Redis says this run must not go on: another engine owns the job,
    or an earlier run of this engine finished it (``finished``)."""

    def __init__(self, owner: str, *, finished: bool = False) -> None:
        super().__init__(
            f"job already finished on {owner}" if finished else f"job is owned by {owner}"
        )
        self.owner = owner
        self.finished = finished


class Recorder:
    """Status of one run and the Redis writes still owed for it."""

    def __init__(self, job: EngineJob, *, tracked: bool, recorded: bool) -> None:
        self.job = job
        self.tracked = tracked
        self.recorded = recorded
        self.state: str = JobState.RUNNING
        self.progress = 0
        self.message = ""
        self.attempts = 1
        # When the run's current attempt began (for the attempt log): the body's
        # start, then the start of the activity attempt that raised ``attempts``.
        self.attempt_started_at: float | None = None
        self.pending = RecordUpdate()

    def status(self) -> WorkflowStatus:
        return WorkflowStatus(
            state=self.state, progress=self.progress, message=self.message, attempts=self.attempts
        )

    def note(self, update: RecordUpdate) -> None:
        """Change the visible status now; Redis learns it with the next activity."""
        if update.state is not None:
            self.state = update.state
        if update.progress is not None:
            self.progress = update.progress
        if update.message is not None:
            self.message = update.message
        attempts = update.attempts
        if attempts is not None:
            if attempts <= self.attempts:
                update = update.model_copy(update={"attempts": None})
            else:
                self.attempts = attempts
                self.attempt_started_at = None  # unknown unless attempt_began says
        if self.tracked:
            self.pending = self.pending.merge(update)

    def attempt_began(self, attempt: int, started_at: float | None) -> None:
        """A step's activity succeeded on its ``attempt``-th try, begun at ``started_at``."""
        raised = attempt > self.attempts
        self.note(RecordUpdate(attempts=attempt))
        if raised:
            self.attempt_started_at = started_at

    def outgoing(self) -> tuple[RecordUpdate | None, EngineJob | None]:
        """What the next activity should write: pending fields, and the record if missing."""
        if not self.tracked:
            return None, None
        update = self.pending if self.pending.model_dump(exclude_none=True) else None
        return update, (None if self.recorded else self.job)

    def delivered(
        self,
        *,
        synced: bool,
        owner: str | None,
        sent: RecordUpdate | None,
        finished: bool = False,
    ) -> None:
        """An activity reported back; raises :class:`DuplicateRun` if this run must stop."""
        if owner == ENGINE_DRAMATIQ:
            raise DuplicateRun(owner)
        if finished:
            raise DuplicateRun(ENGINE_TEMPORAL, finished=True)
        if not synced:
            return
        self.recorded = True
        # Fields noted while the activity ran are still owed.
        if sent is not None and self.pending == sent:
            self.pending = RecordUpdate()

    async def flush(self) -> None:
        """Write pending fields now (before a sleep); best effort."""
        update, ensure = self.outgoing()
        if update is None and ensure is None:
            return
        out = await self._record(RecordInput(job_id=self.job.job_id, update=update, ensure=ensure))
        if out is not None:
            self.delivered(synced=out.synced, owner=out.owner, sent=update, finished=out.finished)

    async def finish(self, finish: FinishInput, *, release: FlowPlan | None = None) -> None:
        """Write the outcome to Redis once; a Redis still down after a few tries is let go.

        ``release``: the concurrency slot to free in the same write (a slot
        whose release is lost frees when its lease ends).
        """
        self.state = finish.state
        if finish.state == JobState.SUCCEEDED:
            self.progress = 100
        if not self.tracked:
            return
        finish = finish.model_copy(
            update={"attempt": self.attempts, "started_at": self.attempt_started_at}
        )
        update, ensure = self.outgoing()
        record = RecordInput(
            job_id=self.job.job_id, update=update, ensure=ensure, finish=finish, release=release
        )
        try:
            await self._record(record)
        except asyncio.CancelledError:
            # The outcome is decided; a cancel that arrives while it is being
            # written must not lose the write. Temporal delivers a cancel
            # request once, so this second try is not cancelled again.
            await self._record(record)

    async def _record(self, record: RecordInput) -> RecordOutput | None:
        try:
            # Local: written from this worker within the current workflow task,
            # so the outcome costs no extra task round trip through the server.
            out: RecordOutput = await workflow.execute_local_activity(
                RECORD_ACTIVITY,
                record,
                result_type=RecordOutput,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
                summary="record" if record.finish is None else f"record {record.finish.state}",
            )
        except FailureError as exc:
            # A local activity fails with its own error (ApplicationError, or
            # Temporal's CancelledError), not wrapped in an ActivityError.
            if is_cancelled_exception(exc):
                # The workflow was cancelled while it waited: that is the
                # job's cancel, not a failed write, and must reach the job.
                raise asyncio.CancelledError(str(exc)) from exc
            workflow.logger.warning("could not update the Redis record: %s", exc.cause or exc)
            return None
        return out
