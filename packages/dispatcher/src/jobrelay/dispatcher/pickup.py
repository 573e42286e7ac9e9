from __future__ import annotations

import asyncio
import logging
import time

from jobrelay.engines import EngineJob
from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, AsyncRedis, RedisUnavailable

from .ledger import Ledger
from .models import DispatchReceipt, Reason
from .temporal_path import TemporalPath

logger = logging.getLogger("jobrelay.dispatcher")

_POLL_FIRST_S = 0.002
_POLL_MAX_S = 0.02


class PickupConfirmation:
    """``confirm="pickup"``: wait for a worker's claim, else take the job to Temporal.

    After ``PICKUP_TIMEOUT_MS`` without a claim, ``SET owner temporal NX``
    decides: the winner starts the workflow; losing means a worker claimed it
    at the last moment, which confirms the pickup.
    """

    def __init__(
        self, ledger: Ledger, redis: AsyncRedis, temporal: TemporalPath, *, timeout_s: float
    ) -> None:
        self.ledger = ledger
        self.redis = redis
        self.temporal = temporal
        self.timeout_s = timeout_s

    async def confirm(self, job: EngineJob, token: str, deadline: float) -> DispatchReceipt:
        """The receipt once the job's owner is settled."""
        try:
            owner = await self._await_owner(job.job_id)
            if owner is None:
                claim = await self.redis.run(
                    self.ledger.claim_temporal(
                        job.job_id,
                        reason=Reason.PICKUP_TIMEOUT,
                        lease_s=self.temporal.settings.start_lease_s,
                    )
                )
                owner = claim.owner
        except RedisUnavailable as exc:
            self.temporal.health.record_failure()
            return self._unconfirmed(job, exc)
        if owner == ENGINE_DRAMATIQ:
            return _receipt(job, ENGINE_DRAMATIQ, Reason.OK)
        try:
            await self.temporal.start(job, None)
        except Exception as exc:
            return await self._give_back(job, token, deadline, exc)
        await self.temporal.confirm_started(job.job_id)
        return _receipt(job, ENGINE_TEMPORAL, Reason.PICKUP_TIMEOUT)

    async def _give_back(
        self, job: EngineJob, token: str, deadline: float, cause: BaseException
    ) -> DispatchReceipt:
        # The message is still queued: the job is Dramatiq's again, with its
        # deadline, rather than reported as refused while it may still run.
        logger.warning(
            "pickup of %s timed out and Temporal failed (%r); left to Dramatiq",
            job.job_id, cause, extra={"job_id": job.job_id},
        )  # fmt: skip
        try:
            await self.redis.run(self.ledger.release(job.job_id, token, deadline=deadline))
        except RedisUnavailable:
            # The claim stays leased in pending: a reconciler starts it later.
            return _receipt(job, ENGINE_TEMPORAL, Reason.PICKUP_TIMEOUT)
        return _receipt(job, ENGINE_DRAMATIQ, Reason.OK)

    def _unconfirmed(self, job: EngineJob, cause: BaseException) -> DispatchReceipt:
        # Redis went away while we waited. The message and the record are in
        # Redis already, so the job is Dramatiq's: a worker claims it when
        # Redis is back, or the reconciler takes it to Temporal with a claim
        # after its pickup deadline. Starting a workflow now, with no claim
        # possible, let both engines run it (found by bench/chaos.py: a
        # workflow finished during the outage, then a worker ran the message).
        logger.warning(
            "pickup of %s unconfirmed, Redis unavailable (%s); left to Dramatiq",
            job.job_id, cause, extra={"job_id": job.job_id},
        )  # fmt: skip
        return _receipt(job, ENGINE_DRAMATIQ, Reason.OK)

    async def _await_owner(self, job_id: str) -> str | None:
        deadline = time.monotonic() + self.timeout_s
        pause = _POLL_FIRST_S
        while True:
            owner = await self.redis.run(self.ledger.owner(job_id))
            if owner is not None:
                return owner
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_MAX_S)


def _receipt(job: EngineJob, engine: str, reason: Reason) -> DispatchReceipt:
    return DispatchReceipt(job_id=job.job_id, engine=engine, reason=reason)
