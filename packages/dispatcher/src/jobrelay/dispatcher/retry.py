"""An operator's retry: a failed, dead or cancelled job runs again, on either engine."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from typing import TYPE_CHECKING

from jobrelay.engines import EngineJob
from jobrelay.queue import (
    ENGINE_DRAMATIQ,
    ENGINE_TEMPORAL,
    RETRYABLE_STATES,
    RedisUnavailable,
    loads,
)

from .errors import JobNotFound, JobNotRetryable, StatusUnavailable
from .ledger import QueuedMessage
from .models import DispatchReceipt, Reason
from .receipts import new_token, record_priority

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

logger = logging.getLogger("jobrelay.dispatcher")


class RetryDispatch:
    """:meth:`Dispatcher.retry`: the job's record back to queued, then to an engine.

    The engine is chosen as for a new dispatch (Dramatiq when the flag is on,
    Redis answers and the queue has a live worker or is paused; Temporal
    otherwise). One script (``READMIT``) checks the state, resets the record,
    drops the owner claim (and with ``fresh`` the step memo) and, for
    Dramatiq, enqueues the message. Finished steps are kept otherwise, so
    they do not run again. On Temporal the job is claimed in the same script
    and a new run of its workflow starts after the closed one.
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def retry(self, job_id: str, *, fresh: bool = False) -> DispatchReceipt:
        """The receipt of the new run, its dead letters deleted; see :meth:`Dispatcher.retry`."""
        receipt, queue = await self.run_again(job_id, fresh=fresh)
        await self.drop_letters(queue, [job_id])
        return receipt

    async def drop_letters(self, queue: str, job_ids: Collection[str]) -> None:
        """Delete the dead letters of jobs just retried: a letter left would show a job
        that runs again, and retrying it would be refused. Best effort: the retry
        stands if Redis does not answer now (the letters can be deleted later)."""
        try:
            dropped = await asyncio.to_thread(
                self.dispatcher.dramatiq.remove_dead_letters_of, queue, job_ids
            )
        except RedisUnavailable as exc:
            logger.warning("dead letters of %d retried jobs left: %s", len(job_ids), exc)
            return
        if dropped:
            logger.info("deleted %d dead letters of retried jobs on %s", dropped, queue)

    async def run_again(self, job_id: str, *, fresh: bool) -> tuple[DispatchReceipt, str]:
        """:meth:`retry` but for its dead letters (a bulk retry drops them in one pass):
        the receipt and the job's queue."""
        d = self.dispatcher
        if not await d.health.ais_healthy():
            cause = f"Redis health check failed (breaker {d.health.state.value})"
            raise StatusUnavailable(job_id, redis_cause=cause, temporal_cause="not asked")
        try:
            record = await asyncio.to_thread(d.store.get, job_id)
            if record is None:
                raise JobNotFound(job_id)
            if record.state.value not in RETRYABLE_STATES:
                raise JobNotRetryable(job_id, record.state.value)
            job = EngineJob(
                job_id=job_id,
                name=record.name,
                queue=record.queue,
                payload=loads(record.payload),
                priority=record_priority(record),
            )
            to_dramatiq, reason = await self._engine(job.queue)
            if to_dramatiq:
                return await self._on_dramatiq(job, fresh, record.payload), job.queue
            return await self._on_temporal(job, fresh, reason), job.queue
        except RedisUnavailable as exc:
            d.health.record_failure()
            raise StatusUnavailable(job_id, redis_cause=exc, temporal_cause="not asked") from exc

    async def _engine(self, queue: str) -> tuple[bool, Reason]:
        d = self.dispatcher
        if not d.settings.use_dramatiq:
            return False, Reason.FLAG_OFF
        _, takes = await d.queue_gate(queue)
        if takes:
            return True, Reason.OK
        return False, Reason.NO_LIVE_WORKER

    async def _on_dramatiq(self, job: EngineJob, fresh: bool, payload: str) -> DispatchReceipt:
        d = self.dispatcher
        message = d.message(job, None, payload)
        await self._readmit(job, fresh, ENGINE_DRAMATIQ, Reason.OK, owner="", message=message)
        if message is None:
            # No message builder here: the record is reset (and in pending, so
            # a reconciler moves it should this enqueue fail); the engine enqueues.
            await asyncio.to_thread(d.dramatiq.enqueue, job, delay_s=None)
        return DispatchReceipt(job_id=job.job_id, engine=ENGINE_DRAMATIQ, reason=Reason.OK)

    async def _on_temporal(self, job: EngineJob, fresh: bool, reason: Reason) -> DispatchReceipt:
        d = self.dispatcher
        await self._readmit(job, fresh, ENGINE_TEMPORAL, reason, owner=ENGINE_TEMPORAL)
        try:
            await d.fallback.start(job, None, rerun=True)
        except Exception as exc:
            # Accepted all the same: the job is claimed and leased in pending,
            # and a reconciler starts it once Temporal answers (the record
            # says it is a rerun).
            logger.warning(
                "retry of %s: Temporal start failed (%r); a reconciler will start it",
                job.job_id, exc, extra={"job_id": job.job_id},
            )  # fmt: skip
        else:
            await d.fallback.confirm_started(job.job_id)
        return DispatchReceipt(job_id=job.job_id, engine=ENGINE_TEMPORAL, reason=reason)

    async def _readmit(
        self,
        job: EngineJob,
        fresh: bool,
        engine: str,
        reason: Reason,
        *,
        owner: str,
        message: QueuedMessage | None = None,
    ) -> None:
        d = self.dispatcher
        settings = d.settings
        lease = settings.pickup_deadline_s if engine == ENGINE_DRAMATIQ else settings.start_lease_s
        call = d.ledger.readmit(
            job.job_id,
            fresh=fresh,
            token=new_token(),
            engine=engine,
            reason=reason.value,
            deadline=time.time() + lease,
            owner=owner,
            message=message,
        )
        outcome = await d.redis.run(call)
        if outcome is None:
            raise JobNotFound(job.job_id)
        if isinstance(outcome, str):
            # Another retry (or a worker) changed it since it was read.
            raise JobNotRetryable(job.job_id, outcome)
