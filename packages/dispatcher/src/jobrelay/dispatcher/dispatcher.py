from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

import pydantic_core
from jobrelay.engines import DramatiqEngine, EngineJob, TemporalEngine
from jobrelay.engines.tracing import tracer, tracing_on
from jobrelay.job_engine import DEFAULT_PRIORITY, get_job, priority_key
from jobrelay.queue import (
    ENGINE_DRAMATIQ,
    ENGINE_TEMPORAL,
    AsyncRedis,
    JobFilter,
    JobIndex,
    JobStore,
    QueuePauses,
    RedisHealth,
    RedisUnavailable,
)
from opentelemetry.trace import SpanKind

from . import metrics
from .admission import AdmitFailed, NotReplicated, with_one_retry
from .batch import BatchDispatch
from .bulk import BulkActions, BulkOutcome
from .errors import DispatchUnavailable, InvalidDispatch, PayloadTooLarge
from .inspector import JobInspector
from .ledger import Admission, Ledger, QueuedMessage
from .listing import JobList, JobLister
from .live_workers import LiveWorkers
from .models import (
    BatchResult,
    Confirm,
    DispatchReceipt,
    JobDetail,
    JobRequest,
    JobStatus,
    Reason,
    delay_seconds,
)
from .pickup import PickupConfirmation
from .receipts import deduplicated_receipt, new_token, record_fields, unique_window
from .retry import RetryDispatch
from .settings import DispatcherSettings
from .temporal_link import TemporalLink
from .temporal_path import TemporalPath

logger = logging.getLogger("jobrelay.dispatcher")

# Builds the Dramatiq message for a job so the dispatcher can write the record
# and push the message in one Redis round trip (see Ledger.admit).
# Arguments: the job, its delay, its payload already encoded as JSON.
MessageBuilder = Callable[[EngineJob, "float | None", str], "QueuedMessage | None"]


class Dispatcher:
    """Chooses the engine for each job and hands it over (docs/architecture.md, Dispatch).

    Dramatiq when the flag is on, Redis is healthy and a worker of the queue
    is alive (or an operator paused the queue: its jobs wait on Dramatiq);
    Temporal otherwise, or when any step of the Dramatiq path fails.
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
        pauses: QueuePauses | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.health = health
        self.workers = workers
        self.dramatiq = dramatiq
        self.temporal = temporal if isinstance(temporal, TemporalLink) else TemporalLink(temporal)
        self.redis = AsyncRedis.for_client(store.client)
        self.pauses = pauses or QueuePauses(store.client, store.keys)
        self.ledger = Ledger(store.keys)
        self.inspector = JobInspector(
            store,
            health,
            self.temporal,
            temporal_ui_url=settings.temporal_ui_url,
            temporal_namespace=settings.temporal_namespace,
        )
        self.fallback = TemporalPath(settings, self.ledger, self.redis, health, self.temporal)
        self.pickup = PickupConfirmation(
            self.ledger, self.redis, self.fallback, timeout_s=settings.pickup_timeout_s
        )
        self._messages = messages
        self.batch = BatchDispatch(self)
        self.retries = RetryDispatch(self)
        self.index = JobIndex(store.client, store.keys)
        self.lister = JobLister(self.index, health)
        self.bulk = BulkActions(self)

    # -- public API -----------------------------------------------------------

    async def dispatch(
        self,
        name: str,
        payload: Any,
        *,
        job_id: str | None = None,
        delay: timedelta | float | None = None,
        confirm: Confirm = "admission",
        priority: str | int | None = None,
    ) -> DispatchReceipt:
        """Validate and hand job ``name`` to one engine; see :func:`dispatch_job`."""
        if confirm not in ("admission", "pickup"):
            raise InvalidDispatch("confirm", f"must be 'admission' or 'pickup', got {confirm!r}")
        job, encoded, delay_s = self.prepare(name, payload, job_id, delay, priority)
        started = time.perf_counter()
        try:
            if tracing_on():
                receipt = await self._traced_route(job, encoded, delay_s, confirm)
            else:
                receipt = await self._route(job, encoded, delay_s, confirm)
        except DispatchUnavailable as exc:
            metrics.unavailable(job.queue, exc.reason)
            raise
        metrics.dispatched(job.queue, receipt, time.perf_counter() - started)
        if logger.isEnabledFor(logging.INFO):
            self._log(job, receipt, confirm, started)
        return receipt

    async def dispatch_many(
        self, jobs: Iterable[JobRequest | Mapping[str, Any]]
    ) -> list[BatchResult]:
        """Dispatch a batch; one :class:`BatchResult` per item, in order.

        Each item is validated on its own: a bad one gets its error in its
        place and the others go on. Items bound for Dramatiq are admitted in
        one Redis round trip for the whole batch (records, pending entries
        and messages); the others start on Temporal concurrently. Each item
        is confirmed at admission (no ``confirm="pickup"``) and deduplicated
        by ``job_id`` like a single dispatch, also within the batch. Raises
        :class:`InvalidDispatch` for a batch over ``JOBRELAY_MAX_BATCH_SIZE``.
        """
        return await self.batch.dispatch(list(jobs))

    async def _traced_route(
        self, job: EngineJob, encoded: str, delay_s: float | None, confirm: Confirm
    ) -> DispatchReceipt:
        # The root of the job's trace: the message (Dramatiq) or the workflow
        # start's headers (Temporal) carry this span's context on.
        with tracer().start_as_current_span(
            "jobrelay.dispatch",
            kind=SpanKind.PRODUCER,
            attributes={"jobrelay.job_id": job.job_id, "jobrelay.job_name": job.name},
        ) as span:
            receipt = await self._route(job, encoded, delay_s, confirm)
            span.set_attributes(
                {"jobrelay.engine": receipt.engine, "jobrelay.reason": receipt.reason.value}
            )
            return receipt

    async def queue_gate(self, queue: str) -> tuple[bool, bool]:
        """Whether ``queue`` is paused, and whether Dramatiq takes its jobs now.

        Dramatiq takes them while a worker of the queue is live, or while an
        operator paused it (its jobs wait on Dramatiq). Cached answers are
        read without an await (each is a measurable share of a dispatch).
        Raises :class:`RedisUnavailable` when a refresh cannot reach Redis.
        """
        paused = self.pauses.cached(queue)
        if paused is None:
            paused = await self.pauses.ais_paused(queue)
        if paused:
            return True, True
        live = self.workers.cached(queue)
        if live is None:
            live = await self.workers.any_live(queue)
        return False, live

    def prepare(
        self,
        name: str,
        payload: Any,
        job_id: str | None,
        delay: timedelta | float | None,
        priority: str | int | None = None,
    ) -> tuple[EngineJob, str, float | None]:
        """The job to send, its payload as JSON and its delay, or the error a dispatch raises."""
        delay_s = delay_seconds(delay)
        try:
            key = priority_key(priority)
        except ValueError as exc:
            raise InvalidDispatch("priority", str(exc)) from None
        definition = get_job(name)
        data = definition.dump_payload(payload)
        if definition.flow.declared:
            # A key the payload cannot give is its fault, told now (InvalidPayload).
            definition.flow_keys(data)
        encoded = pydantic_core.to_json(data)
        if len(encoded) > self.settings.max_payload_bytes:
            raise PayloadTooLarge(name, len(encoded), self.settings.max_payload_bytes)
        job = EngineJob(
            job_id=job_id or uuid.uuid4().hex,
            name=name,
            queue=definition.queue,
            payload=data,
            priority=None if key == DEFAULT_PRIORITY else key,
        )
        return job, encoded.decode(), delay_s

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

    async def retry(self, job_id: str, *, fresh: bool = False) -> DispatchReceipt:
        """Run a failed, dead or cancelled job again; the receipt of the new run.

        Its finished steps are kept (they do not run again) unless ``fresh``.
        The engine is chosen as for a new dispatch. Its Dramatiq dead letters
        are deleted once it is readmitted. Raises ``JobNotFound``,
        ``JobNotRetryable`` (queued, running, sleeping or succeeded) and
        ``StatusUnavailable`` when Redis does not answer.
        """
        return await self.retries.retry(job_id, fresh=fresh)

    async def get_status(self, job_id: str) -> JobStatus:
        """See :func:`get_job_status`."""
        return await self.inspector.get_status(job_id)

    async def get_detail(self, job_id: str) -> JobDetail:
        """The job's status with its payload, attempts, steps and Temporal run.

        Raises as :meth:`get_status` does (``JobNotFound``, ``StatusUnavailable``).
        """
        return await self.inspector.get_detail(job_id)

    async def list_jobs(
        self, where: JobFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> JobList:
        """A page of the jobs ``where`` selects (build it with :func:`job_filter`), newest first.

        Raises ``InvalidQuery``, ``InvalidCursor`` and ``IndexUnavailable``.
        """
        return await self.lister.page(where or JobFilter(), limit=limit, cursor=cursor)

    async def retry_many(
        self, where: JobFilter, *, fresh: bool = False, limit: int | None = None
    ) -> BulkOutcome:
        """Retry the failed, dead or cancelled jobs ``where`` selects, ``limit`` at most.

        ``limit`` defaults to, and may not exceed, ``JOBRELAY_BULK_LIMIT``.
        """
        return await self.bulk.retry(where, fresh=fresh, limit=limit)

    async def cancel_many(self, where: JobFilter, *, limit: int | None = None) -> BulkOutcome:
        """Cancel the queued, running or sleeping jobs ``where`` selects, ``limit`` at most."""
        return await self.bulk.cancel(where, limit=limit)

    async def delete_job(self, job_id: str) -> None:
        """Remove a finished job's record. ``JobNotFound``, ``JobNotRemovable`` if unfinished."""
        await self.inspector.delete(job_id)

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
        # The cached answers first: each await here is a measurable share of a dispatch.
        healthy = self.health.cached()
        if healthy is None:
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
            paused, live = await self.queue_gate(job.queue)
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
        message = self.message(job, delay_s, encoded)
        try:
            existing = await self._admit(job, encoded, token, deadline, message)
        except AdmitFailed as failed:
            self.health.record_failure()
            if failed.may_have_landed:
                # Redis may hold the job and its message after all, for a
                # Dramatiq worker to take once Redis is back: the workflow
                # waits for the owner claim instead of running without one.
                job = job.model_copy(update={"claim_first": True})
            return await to_temporal(
                job, encoded, delay_s, Reason.REDIS_UNAVAILABLE, failed.cause, redis_ok=False
            )
        except NotReplicated as thin:
            # Written, not yet safe from a failover: Temporal takes it, as for
            # an enqueue that failed (the claim keeps Dramatiq from running it).
            logger.warning("%s", thin, extra={"job_id": job.job_id})
            return await self.after_failed_enqueue(job, delay_s, token, thin)
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
                return await self.after_failed_enqueue(job, delay_s, token, exc)
        if confirm == "admission" or delay_s or paused:
            # A delayed job, or one of a paused queue, cannot be picked up within
            # the pickup timeout; the reconciler enforces its deadline instead.
            return DispatchReceipt(job_id=job.job_id, engine=ENGINE_DRAMATIQ, reason=Reason.OK)
        return await self.pickup.confirm(job, token, deadline)

    def message(self, job: EngineJob, delay_s: float | None, encoded: str) -> QueuedMessage | None:
        """The Dramatiq message to push with the record; None for the engine's own enqueue."""
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
            job.job_id,
            fields,
            payload=encoded,
            deadline=deadline,
            message=message,
            unique=unique_window(self.store.keys, job),
        )
        wanted = self.settings.replica_wait
        if not wanted:
            admission = await with_one_retry(lambda: self.redis.run(call))
        else:
            wait_ms = self.settings.replica_wait_ms
            admission, acked = await with_one_retry(
                lambda: self.redis.run_replicated(call, wanted, wait_ms)
            )
            if acked < wanted and (admission.created or admission.token == token):
                raise NotReplicated(job.job_id, acked, wanted)
        if not admission.created and admission.token != token:
            return admission
        return None

    async def after_failed_enqueue(
        self, job: EngineJob, delay_s: float | None, token: str, cause: BaseException
    ) -> DispatchReceipt:
        """Claim for Temporal a job whose record exists but whose enqueue failed, and start it."""
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
