from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pydantic_core
import redis
from jobrelay.engines import DramatiqEngine, EngineJob, TemporalEngine
from jobrelay.job_engine import get_job
from jobrelay.queue import (
    ENGINE_DRAMATIQ,
    ENGINE_TEMPORAL,
    AsyncRedis,
    JobStore,
    RedisHealth,
    RedisUnavailable,
)
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from . import metrics
from .errors import DispatchUnavailable, PayloadTooLarge
from .inspector import JobInspector
from .ledger import Admission, Ledger, QueuedMessage
from .live_workers import LiveWorkers
from .models import Confirm, DispatchReceipt, JobStatus, Reason, delay_seconds
from .pickup import PickupConfirmation
from .receipts import deduplicated_receipt, new_token, record_fields
from .settings import DispatcherSettings
from .temporal_link import TemporalLink
from .temporal_path import TemporalPath

logger = logging.getLogger("jobrelay.dispatcher")

# Builds the Dramatiq message for a job so the dispatcher can write the record
# and push the message in one Redis round trip (see Ledger.admit).
# Arguments: the job, its delay, its payload already encoded as JSON.
MessageBuilder = Callable[[EngineJob, "float | None", str], "QueuedMessage | None"]

_ENQUEUE_RETRY_WAIT_S = 0.05


class Dispatcher:
    """Chooses the engine for each job and hands it over (docs/architecture.md, Dispatch).

    Dramatiq when the flag is on, Redis is healthy and a worker of the queue
    is alive; Temporal otherwise, or when any step of the Dramatiq path fails.
    Applications build one explicitly; ``dispatch_job`` uses a default one.
    Its Redis round trips are made with :class:`AsyncRedis` (the store's
    server, on the caller's event loop); the operator calls that read or
    change a whole record (status, cancel) run the store's blocking calls
    in a worker thread.
    """

    def __init__(
        self,
        settings: DispatcherSettings,
        *,
        store: JobStore,
        health: RedisHealth,
        workers: LiveWorkers,
        dramatiq: DramatiqEngine,
        temporal: TemporalEngine | TemporalLink,
        messages: MessageBuilder | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.health = health
        self.workers = workers
        self.dramatiq = dramatiq
        self.temporal = temporal if isinstance(temporal, TemporalLink) else TemporalLink(temporal)
        self.redis = AsyncRedis.for_client(store.client)
        self.ledger = Ledger(store.keys)
        self.inspector = JobInspector(store, health, self.temporal)
        self.fallback = TemporalPath(settings, self.ledger, self.redis, health, self.temporal)
        self.pickup = PickupConfirmation(
            self.ledger, self.redis, self.fallback, timeout_s=settings.pickup_timeout_s
        )
        self._messages = messages

    # -- public API -----------------------------------------------------------

    async def dispatch(
        self,
        name: str,
        payload: Any,
        *,
        job_id: str | None = None,
        delay: timedelta | float | None = None,
        confirm: Confirm = "admission",
    ) -> DispatchReceipt:
        """Validate and hand job ``name`` to one engine; see :func:`dispatch_job`."""
        if confirm not in ("admission", "pickup"):
            raise ValueError(f"confirm must be 'admission' or 'pickup', got {confirm!r}")
        delay_s = delay_seconds(delay)
        definition = get_job(name)
        data = definition.dump_payload(payload)
        encoded = pydantic_core.to_json(data)
        if len(encoded) > self.settings.max_payload_bytes:
            raise PayloadTooLarge(name, len(encoded), self.settings.max_payload_bytes)
        job = EngineJob(
            job_id=job_id or uuid.uuid4().hex, name=name, queue=definition.queue, payload=data
        )
        started = time.perf_counter()
        try:
            receipt = await self._route(job, encoded.decode(), delay_s, confirm)
        except DispatchUnavailable as exc:
            metrics.unavailable(job.queue, exc.reason)
            raise
        metrics.dispatched(job.queue, receipt, time.perf_counter() - started)
        if logger.isEnabledFor(logging.INFO):
            self._log(job, receipt, confirm, started)
        return receipt

    def _log(
        self, job: EngineJob, receipt: DispatchReceipt, confirm: Confirm, started: float
    ) -> None:
        # One structured line per decision; the fields are the ``extra`` keys.
        logger.info(
            "dispatched %s to %s (%s)",
            job.job_id,
            receipt.engine,
            receipt.reason.value,
            extra={
                "job_id": job.job_id,
                "job_name": job.name,
                "queue": job.queue,
                "engine": receipt.engine,
                "reason": receipt.reason.value,
                "deduplicated": receipt.deduplicated,
                "confirm": confirm,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )

    async def get_status(self, job_id: str) -> JobStatus:
        """See :func:`get_job_status`."""
        return await self.inspector.get_status(job_id)

    async def cancel(self, job_id: str) -> bool:
        """See :func:`cancel_job`."""
        return await self.inspector.cancel(job_id)

    async def connect(self, *, timeout_s: float = 5.0) -> bool:
        """Connect to Temporal now, so the first fallback pays no connect; True when connected.

        A server that does not answer within ``timeout_s`` is left to connect
        on first use, as without this call (an application starting while
        Temporal is down still starts).
        """
        try:
            await asyncio.wait_for(self.temporal.get(), timeout_s)
        except Exception as exc:
            logger.info("Temporal not connected at start-up (connects on first use): %s", exc)
            return False
        return True

    async def aclose(self) -> None:
        """Release the Redis connections (a later call reconnects), like the proxy's client."""
        await self.redis.aclose()
        await asyncio.to_thread(self.store.client.close)

    # -- the Dramatiq path ----------------------------------------------------

    async def _route(
        self, job: EngineJob, encoded: str, delay_s: float | None, confirm: Confirm
    ) -> DispatchReceipt:
        to_temporal = self.fallback.route
        healthy = await self.health.ais_healthy()
        if healthy and self.fallback.backfill:
            await self.fallback.flush_backfill()
        if not self.settings.use_dramatiq:
            return await to_temporal(
                job, encoded, delay_s, Reason.FLAG_OFF, "USE_DRAMATIQ is off", redis_ok=healthy
            )
        if not healthy:
            cause = f"Redis health check failed (breaker {self.health.state.value})"
            return await to_temporal(
                job, encoded, delay_s, Reason.REDIS_UNAVAILABLE, cause, redis_ok=False
            )
        try:
            live = await self.workers.any_live(job.queue)
        except RedisUnavailable as exc:
            self.health.record_failure()
            return await to_temporal(
                job, encoded, delay_s, Reason.REDIS_UNAVAILABLE, exc, redis_ok=False
            )
        if not live:
            cause = f"no live worker for queue {job.queue!r}"
            return await to_temporal(
                job, encoded, delay_s, Reason.NO_LIVE_WORKER, cause, redis_ok=True
            )
        token = new_token()
        deadline = time.time() + (delay_s or 0.0) + self.settings.pickup_deadline_s
        message = self._message(job, delay_s, encoded)
        try:
            existing = await self._admit(job, encoded, token, deadline, message)
        except _AdmitFailed as failed:
            self.health.record_failure()
            if failed.may_have_landed:
                # Redis may hold the job and its message after all, for a
                # Dramatiq worker to take once Redis is back: the workflow
                # waits for the owner claim instead of running without one.
                job = job.model_copy(update={"claim_first": True})
            return await to_temporal(
                job, encoded, delay_s, Reason.REDIS_UNAVAILABLE, failed.cause, redis_ok=False
            )
        if existing is not None:
            return deduplicated_receipt(job.job_id, existing)
        if message is None:
            try:
                # The engine's own enqueue blocks: a delayed job, or no message builder.
                await asyncio.to_thread(self.dramatiq.enqueue, job, delay_s=delay_s)
            except Exception as exc:
                logger.warning(
                    "enqueue of %s failed: %r", job.job_id, exc, extra={"job_id": job.job_id}
                )
                return await self._after_failed_enqueue(job, delay_s, token, exc)
        if confirm == "admission" or delay_s:
            # A delayed job cannot be picked up within the pickup timeout; the
            # reconciler enforces its deadline instead.
            return DispatchReceipt(job_id=job.job_id, engine=ENGINE_DRAMATIQ, reason=Reason.OK)
        return await self.pickup.confirm(job, token, deadline)

    def _message(self, job: EngineJob, delay_s: float | None, encoded: str) -> QueuedMessage | None:
        if self._messages is None:
            return None
        try:
            return self._messages(job, delay_s, encoded)
        except Exception:
            # The adapter's own enqueue path still works (or fails over properly).
            logger.exception("building the message of %s failed", job.job_id)
            return None

    async def _admit(
        self,
        job: EngineJob,
        encoded: str,
        token: str,
        deadline: float,
        message: QueuedMessage | None,
    ) -> Admission | None:
        """Record + pending (+ message); the existing record's admission on a duplicate."""
        fields = record_fields(job, ENGINE_DRAMATIQ, Reason.OK, token)
        call = self.ledger.admit(
            job.job_id, fields, payload=encoded, deadline=deadline, message=message
        )

        async def admit() -> Admission:
            return await self.redis.run(call)

        try:
            admission = await admit()
        except RedisUnavailable as exc:
            landed = may_have_landed(exc)
            if isinstance(exc.__cause__, redis.TimeoutError):
                # A slow or frozen Redis: waiting once more would only double the delay.
                raise _AdmitFailed(exc, landed) from exc
            # One short retry: a blip (a dropped connection, a failover) should
            # not send a job to the fallback engine.
            try:
                admission = await _retry_once(admit)
            except RedisUnavailable as again:
                raise _AdmitFailed(again, landed or may_have_landed(again)) from again
        if not admission.created and admission.token != token:
            return admission
        return None

    async def _after_failed_enqueue(
        self, job: EngineJob, delay_s: float | None, token: str, cause: BaseException
    ) -> DispatchReceipt:
        # The record exists but no message was sent: claim it for Temporal.
        try:
            claim = await self.redis.run(
                self.ledger.claim_temporal(
                    job.job_id, reason=Reason.ENQUEUE_FAILED, lease_s=self.settings.start_lease_s
                )
            )
        except RedisUnavailable:
            self.health.record_failure()
            claim = None
        if claim is not None and claim.owner == ENGINE_DRAMATIQ:
            # A message of an earlier attempt was picked up after all.
            return DispatchReceipt(job_id=job.job_id, engine=ENGINE_DRAMATIQ, reason=Reason.OK)
        try:
            await self.fallback.start(job, delay_s)
        except Exception as exc:
            if claim is not None:
                await self.fallback.abandon(job.job_id, token)
            raise DispatchUnavailable(
                job.job_id, reason=Reason.ENQUEUE_FAILED, dramatiq_cause=cause, temporal_cause=exc
            ) from exc
        await self.fallback.confirm_started(job.job_id)
        return DispatchReceipt(
            job_id=job.job_id, engine=ENGINE_TEMPORAL, reason=Reason.ENQUEUE_FAILED
        )


class _AdmitFailed(Exception):
    """Raised when the admit's round trips to Redis failed; says if one may have landed."""

    def __init__(self, cause: RedisUnavailable, may_have_landed: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.may_have_landed = may_have_landed


def may_have_landed(exc: RedisUnavailable) -> bool:
    """Whether the command that failed with ``exc`` may have run on Redis all the same.

    Only a failed connect (refused, unreachable, timed out while connecting)
    proves the command was never sent; a connection that broke or timed out
    after the send leaves it unknown.
    """
    cause = exc.__cause__
    connect_failed = isinstance(cause, (redis.ConnectionError, redis.TimeoutError)) and (
        "connecting to" in str(cause)
    )
    return not connect_failed


async def _retry_once(fn: Callable[[], Awaitable[Admission]]) -> Admission:
    """The one retry of a Redis write whose first attempt failed, after a short pause.

    The first attempt runs outside tenacity: a tenacity loop costs about 13 us
    a call, a tenth of the whole Dramatiq dispatch.
    """
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(1),
        before=_pause,
        retry=retry_if_exception_type(RedisUnavailable),
        reraise=True,
    ):
        with attempt:
            return await fn()
    raise AssertionError("unreachable")  # pragma: no cover


async def _pause(_: RetryCallState) -> None:
    await asyncio.sleep(_ENQUEUE_RETRY_WAIT_S)
