from __future__ import annotations

import logging
import time

from jobrelay.engines import EngineJob
from jobrelay.queue import ENGINE_TEMPORAL, AsyncRedis, RedisHealth, RedisUnavailable

from .backfill import Backfill
from .errors import DispatchUnavailable
from .ledger import Ledger
from .models import DispatchReceipt, Reason
from .receipts import deduplicated_receipt, new_token, record_fields, unique_window
from .settings import DispatcherSettings
from .temporal_link import TemporalLink

logger = logging.getLogger("jobrelay.dispatcher")


class TemporalPath:
    """Hands a job to Temporal: claim and record it when Redis answers, then start.

    When Redis answers, the record is created with ``owner=temporal`` in one
    step (docs/architecture.md, Dispatch: Temporal path) and stays leased in
    the pending set until the start is confirmed, so a crash in between is
    repaired by a reconciler. When Redis does not answer, the workflow starts
    alone (workflow id = job id dedupes on Temporal's side) and its record
    waits in the :class:`Backfill`. If the start fails, the record is removed
    again and :class:`DispatchUnavailable` says why both engines refused.
    """

    def __init__(
        self,
        settings: DispatcherSettings,
        ledger: Ledger,
        redis: AsyncRedis,
        health: RedisHealth,
        temporal: TemporalLink,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.redis = redis
        self.health = health
        self.temporal = temporal
        self.backfill = Backfill(ledger, redis)

    async def route(
        self,
        job: EngineJob,
        encoded: str,
        delay_s: float | None,
        reason: Reason,
        cause: BaseException | str,
        *,
        redis_ok: bool,
    ) -> DispatchReceipt:
        """Start ``job`` on Temporal because of ``reason`` (``cause`` says more)."""
        token = new_token()
        fields = record_fields(job, ENGINE_TEMPORAL, reason, token)
        recorded = False
        if redis_ok:
            lease = time.time() + (delay_s or 0.0) + self.settings.start_lease_s
            try:
                admission = await self.redis.run(
                    self.ledger.admit(
                        job.job_id,
                        fields,
                        payload=encoded,
                        deadline=lease,
                        owner=ENGINE_TEMPORAL,
                        unique=unique_window(self.ledger.keys, job),
                    )
                )
            except RedisUnavailable:
                self.health.record_failure()
            else:
                if not admission.created:
                    return deduplicated_receipt(job.job_id, admission)
                recorded = True
        try:
            await self.start(job, delay_s)
        except Exception as exc:
            if recorded:
                await self.abandon(job.job_id, token)
            raise DispatchUnavailable(
                job.job_id, reason=reason.value, dramatiq_cause=cause, temporal_cause=exc
            ) from exc
        if recorded:
            await self.confirm_started(job.job_id)
        else:
            self.backfill.add(job.job_id, fields, encoded)
        return DispatchReceipt(job_id=job.job_id, engine=ENGINE_TEMPORAL, reason=reason)

    async def start(self, job: EngineJob, delay_s: float | None, *, rerun: bool = False) -> None:
        """Start the workflow (idempotent); raises whatever the engine raised."""
        engine = await self.temporal.get()
        await engine.start(job, delay_s=delay_s, rerun=rerun)

    async def flush_backfill(self) -> None:
        """Write the records of jobs started while Redis was down (Redis answers now)."""
        try:
            written = await self.backfill.flush()
        except RedisUnavailable:
            self.health.record_failure()
            return
        logger.info("wrote %d records of jobs started while Redis was down", written)

    async def confirm_started(self, job_id: str) -> None:
        """Stop watching a job whose workflow start was confirmed."""
        try:
            await self.redis.run(self.ledger.confirm_started(job_id))
        except RedisUnavailable:
            # Harmless: when the lease ends a reconciler starts it again, and
            # the start is idempotent (workflow id = job id).
            self.health.record_failure()

    async def abandon(self, job_id: str, token: str) -> None:
        """Remove the record of a dispatch no engine accepted."""
        try:
            await self.redis.run(self.ledger.abandon(job_id, token))
        except RedisUnavailable:
            self.health.record_failure()
            logger.error(
                "could not undo the record of %s after both engines failed; "
                "a reconciler will start it once Temporal answers",
                job_id,
                extra={"job_id": job_id},
            )
