"""The activities of :class:`JobWorkflow`: claim, the one generic step, record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from jobrelay.job_engine import (
    JobDefinitionError,
    PermanentError,
    UnknownJob,
    get_job,
    resolve_step,
)
from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, JobStore, RedisUnavailable, dumps
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..models import (
    CANCELLED_ERROR,
    CLAIM_ACTIVITY,
    DEFINITION_ERROR,
    PERMANENT_ERROR,
    RECORD_ACTIVITY,
    STEP_ACTIVITY,
    ClaimInput,
    ClaimOutput,
    RecordInput,
    RecordOutput,
    RecordUpdate,
    StepInput,
    StepOutput,
)
from .redis_records import RecordWriter
from .step_call import call_with_heartbeat, coerce_args

logger = logging.getLogger(__name__)


class JobActivities:
    """Activities bound to one worker's store (None: this worker keeps no Redis record).

    Redis is best effort here: when it does not answer, the job still runs and
    Temporal's history stays the source of truth.
    """

    def __init__(self, store: JobStore | None) -> None:
        self._writer = RecordWriter(store) if store is not None else None

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for ``Worker(activities=...)``."""
        return [self.claim, self.step, self.record]

    @activity.defn(name=CLAIM_ACTIVITY)
    async def claim(self, data: ClaimInput) -> ClaimOutput:
        """Find the job's module; create its record if absent and claim ``temporal``."""
        job = data.job
        try:
            module: str | None = get_job(job.name).func.__module__
        except UnknownJob:
            module = None  # the workflow fails the job, naming the jobs it knows
        if self._writer is None:
            return ClaimOutput(module=module, tracked=False)
        finished = False
        try:
            owner, finished = await asyncio.to_thread(self._writer.ensure, job, attempts=1)
            # A start after Temporal forgot an earlier, finished run must not run it again.
            finished = finished and owner == ENGINE_TEMPORAL
        except RedisUnavailable as exc:
            logger.warning(
                "job %s: Redis unavailable at claim, running anyway: %s", job.job_id, exc
            )
            owner = None
        return ClaimOutput(module=module, tracked=True, owner=owner, finished=finished)

    @activity.defn(name=STEP_ACTIVITY)
    async def step(self, data: StepInput) -> StepOutput:
        """Run one step by ``module:qualname``; its result goes back as JSON."""
        info = activity.info()
        synced, owner, cancel, done = False, None, False, None
        if self._writer is not None:
            try:
                owner, cancel, done = await asyncio.to_thread(self._before_step, data, info.attempt)
                synced = True
            except RedisUnavailable as exc:
                logger.info(
                    "job %s: Redis unavailable before %s: %s", data.job_id, data.step_id, exc
                )
        if owner == ENGINE_DRAMATIQ:
            return StepOutput(value="null", attempt=info.attempt, synced=synced, owner=owner)
        if done is not None:
            # An earlier attempt ran the step and its worker died before Temporal
            # heard back: the result it left in Redis stands, the step is not rerun.
            return StepOutput(value=done, attempt=info.attempt, synced=synced, owner=owner)
        if cancel:
            raise ApplicationError(
                f"job {data.job_id} cancelled before step {data.step_id!r}",
                type=CANCELLED_ERROR,
                non_retryable=True,
            )
        try:
            fn = resolve_step(data.ref)
            args = coerce_args(fn, data.args)
        except (JobDefinitionError, ValidationError) as exc:
            raise ApplicationError(str(exc), type=DEFINITION_ERROR, non_retryable=True) from exc
        heartbeat = info.heartbeat_timeout
        interval = max(0.1, min(1.0, heartbeat.total_seconds() / 4)) if heartbeat else None
        keep = partial(self._keep, data) if synced else None
        try:
            value = await call_with_heartbeat(fn, args, interval, keep=keep)
        except PermanentError as exc:
            # Typed explicitly: a subclass name would otherwise look retryable.
            raise ApplicationError(str(exc), type=PERMANENT_ERROR, non_retryable=True) from exc
        try:
            encoded = dumps(value)
        except PydanticSerializationError as exc:
            # The same value comes back on every retry: fail now, naming the step.
            raise ApplicationError(
                f"step {data.step_id!r} returned a value that is not JSON: {exc}",
                type=DEFINITION_ERROR,
                non_retryable=True,
            ) from exc
        return StepOutput(value=encoded, attempt=info.attempt, synced=synced, owner=owner)

    def _keep(self, data: StepInput, value: Any) -> None:
        """Keep a step's result for a retry of this activity (blocking; best effort).

        Temporal's history holds the result once the completion reaches it;
        until then a retry after this worker died finds it here.
        """
        assert self._writer is not None
        try:
            self._writer.store.save_step(data.job_id, data.step_id, value)
        except PydanticSerializationError:
            pass  # the activity reports it, naming the step
        except RedisUnavailable as exc:
            logger.info("job %s: could not keep %s's result: %s", data.job_id, data.step_id, exc)

    @activity.defn(name=RECORD_ACTIVITY)
    async def record(self, data: RecordInput) -> RecordOutput:
        """Write state, progress or the outcome to the job record."""
        if self._writer is None:
            return RecordOutput(synced=False)
        try:
            owner = await asyncio.to_thread(self._record, data)
        except RedisUnavailable as exc:
            if data.finish is not None:
                # Retried a few times by the workflow's policy: the outcome matters most.
                raise ApplicationError(
                    f"Redis unavailable: {exc}", type="RedisUnavailable"
                ) from exc
            return RecordOutput(synced=False)
        return RecordOutput(synced=True, owner=owner)

    def _before_step(self, data: StepInput, attempt: int) -> tuple[str | None, bool, str | None]:
        """Owner, cancel flag and the step's kept result (if an earlier attempt left one)."""
        assert self._writer is not None
        owner = None
        if data.ensure is not None:
            owner = self._writer.ensure(data.ensure, attempts=max(attempt, data.attempts)).owner
            if owner == ENGINE_DRAMATIQ:
                return owner, False, None
        update = data.update or RecordUpdate()
        if attempt > data.attempts:
            update = update.merge(RecordUpdate(attempts=attempt))
        self._writer.apply(data.job_id, update)
        store = self._writer.store
        done = store.load_step(data.job_id, data.step_id) if attempt > 1 else None
        return owner, store.cancel_requested(data.job_id), done

    def _record(self, data: RecordInput) -> str | None:
        assert self._writer is not None
        owner = None
        if data.ensure is not None:
            owner = self._writer.ensure(data.ensure, attempts=1).owner
            if owner == ENGINE_DRAMATIQ:
                return owner
        if data.update is not None:
            self._writer.apply(data.job_id, data.update)
        if data.finish is not None:
            self._writer.finish(data.job_id, data.finish)
        return owner
