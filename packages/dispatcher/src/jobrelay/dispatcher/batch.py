"""Many jobs in one call: one Redis round trip for the Dramatiq ones, Temporal concurrently."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic
import redis
from jobrelay.engines import EngineJob
from jobrelay.job_engine import JobrelayError
from jobrelay.queue import ENGINE_DRAMATIQ, RedisUnavailable

from . import metrics
from .admission import AdmitFailed, NotReplicated, with_one_retry
from .errors import DispatchUnavailable, InvalidDispatch
from .ledger import Admission, AdmitEntry, QueuedMessage
from .models import BatchResult, DispatchReceipt, JobRequest, Reason
from .receipts import deduplicated_receipt, new_token, record_fields, unique_window

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

logger = logging.getLogger("jobrelay.dispatcher")

# Temporal starts of one batch in flight at once: enough to hide the
# server's latency, few enough not to flood it from one request.
_TEMPORAL_CONCURRENCY = 32


@dataclass(slots=True)
class _Item:
    index: int
    job: EngineJob
    encoded: str
    delay_s: float | None


@dataclass(slots=True)
class _Fallback:
    item: _Item
    reason: Reason
    cause: BaseException | str
    redis_ok: bool


class BatchDispatch:
    """:meth:`Dispatcher.dispatch_many`: the same decisions as a single dispatch, per item.

    Health is asked once and live workers once per queue. The Dramatiq items
    are admitted in one ``ADMIT_MANY`` script call (one round trip, retried
    once like a single admit); an item whose ``job_id`` is already recorded,
    earlier or by an item before it in the same batch, gets the first
    receipt with ``deduplicated=True``. The rest go to Temporal as single
    dispatches would, concurrently.
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def dispatch(self, items: Sequence[JobRequest | Mapping[str, Any]]) -> list[BatchResult]:
        """One result per item, in order; see :meth:`Dispatcher.dispatch_many`."""
        limit = self.dispatcher.settings.max_batch_size
        if len(items) > limit:
            raise InvalidDispatch(
                "jobs",
                f"at most {limit} jobs per batch (JOBRELAY_MAX_BATCH_SIZE), got {len(items)}",
            )
        started = time.perf_counter()
        results: dict[int, BatchResult] = {}
        ready: list[_Item] = []
        for index, raw in enumerate(items):
            try:
                ready.append(self._prepare(index, raw))
            except JobrelayError as exc:
                results[index] = BatchResult(index, error=exc)
        to_dramatiq, fallbacks = await self._route(ready)
        fallbacks += await self._admit(to_dramatiq, results)
        await self._to_temporal(fallbacks, results)
        counts: Counter[tuple[str, str, str]] = Counter()
        for item in ready:
            result = results[item.index]
            if result.receipt is not None:
                counts[item.job.queue, result.receipt.engine, result.receipt.reason.value] += 1
            elif isinstance(result.error, DispatchUnavailable):
                metrics.unavailable(item.job.queue, result.error.reason)
        metrics.batch_dispatched(counts, time.perf_counter() - started)
        return [results[index] for index in range(len(items))]

    def _prepare(self, index: int, raw: JobRequest | Mapping[str, Any]) -> _Item:
        try:
            request = raw if isinstance(raw, JobRequest) else JobRequest.model_validate(raw)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidDispatch(("jobs", index, *first["loc"]), first["msg"]) from exc
        try:
            job, encoded, delay_s = self.dispatcher.prepare(
                request.name, request.payload, request.job_id, request.delay, request.priority
            )
        except InvalidDispatch as exc:
            raise InvalidDispatch(("jobs", index, *exc.loc), exc.message) from exc
        return _Item(index, job, encoded, delay_s)

    async def _route(self, items: list[_Item]) -> tuple[list[_Item], list[_Fallback]]:
        """The items Dramatiq may take, and the others with why they go to Temporal."""
        d = self.dispatcher
        if not items:
            return [], []
        healthy = await d.health.ais_healthy()
        if healthy and d.fallback.backfill:
            await d.fallback.flush_backfill()
        if not d.settings.use_dramatiq:
            flag_off = "USE_DRAMATIQ is off"
            return [], [_Fallback(i, Reason.FLAG_OFF, flag_off, healthy) for i in items]
        if not healthy:
            cause = f"Redis health check failed (breaker {d.health.state.value})"
            return [], [_Fallback(i, Reason.REDIS_UNAVAILABLE, cause, False) for i in items]
        live: dict[str, bool | RedisUnavailable] = {}
        for queue in dict.fromkeys(item.job.queue for item in items):
            try:
                _, live[queue] = await d.queue_gate(queue)
            except RedisUnavailable as exc:
                d.health.record_failure()
                live[queue] = exc
        to_dramatiq: list[_Item] = []
        fallbacks: list[_Fallback] = []
        for item in items:
            answer = live[item.job.queue]
            if isinstance(answer, RedisUnavailable):
                fallbacks.append(_Fallback(item, Reason.REDIS_UNAVAILABLE, answer, False))
            elif not answer:
                cause = f"no live worker for queue {item.job.queue!r}"
                fallbacks.append(_Fallback(item, Reason.NO_LIVE_WORKER, cause, True))
            else:
                to_dramatiq.append(item)
        return to_dramatiq, fallbacks

    async def _admit(self, items: list[_Item], results: dict[int, BatchResult]) -> list[_Fallback]:
        """Admit ``items`` in one round trip; the ones that must go to Temporal after all."""
        d = self.dispatcher
        if not items:
            return []
        tokens = [new_token() for _ in items]
        messages: list[QueuedMessage | None] = []
        entries: list[AdmitEntry] = []
        for item, token in zip(items, tokens, strict=True):
            job, delay_s = item.job, item.delay_s
            deadline = time.time() + (delay_s or 0.0) + d.settings.pickup_deadline_s
            message = d.message(job, delay_s, item.encoded)
            messages.append(message)
            fields = record_fields(job, ENGINE_DRAMATIQ, Reason.OK, token)
            unique = unique_window(d.store.keys, job)
            entries.append(
                AdmitEntry(
                    job.job_id, fields, item.encoded, deadline, message=message, unique=unique
                )
            )
        call = d.ledger.admit_many(entries)
        wanted, acked = d.settings.replica_wait, 0
        try:
            if wanted:
                wait_ms = d.settings.replica_wait_ms
                replies, acked = await with_one_retry(
                    lambda: d.redis.run_replicated(call, wanted, wait_ms)
                )
            else:
                replies = await with_one_retry(lambda: d.redis.run(call))
        except AdmitFailed as failed:
            d.health.record_failure()
            return [_unadmitted(item, failed.cause, failed.may_have_landed) for item in items]
        except redis.ResponseError as exc:
            # The script failed part way: the writes it made stand.
            logger.error("admit of a batch of %d failed: %s", len(items), exc)
            cause = RedisUnavailable(f"admit failed: {exc}")
            return [_unadmitted(item, cause, True) for item in items]
        fallbacks: list[_Fallback] = []
        enqueues = []
        for item, token, message, reply in zip(items, tokens, messages, replies, strict=True):
            if _duplicate(reply, token):
                results[item.index] = BatchResult(
                    item.index, receipt=deduplicated_receipt(item.job.job_id, reply)
                )
            elif acked < wanted:
                # Written, not yet safe from a failover: to Temporal, as an
                # enqueue that failed (see Dispatcher._route).
                thin = NotReplicated(item.job.job_id, acked, wanted)
                enqueues.append(self._after_failed(item, token, thin, results))
            elif message is None:
                enqueues.append(self._enqueue(item, token, results))
            else:
                results[item.index] = BatchResult(item.index, receipt=_on_dramatiq(item))
        await asyncio.gather(*enqueues)
        return fallbacks

    async def _after_failed(
        self, item: _Item, token: str, cause: BaseException, results: dict[int, BatchResult]
    ) -> None:
        try:
            receipt = await self.dispatcher.after_failed_enqueue(
                item.job, item.delay_s, token, cause
            )
        except DispatchUnavailable as unavailable:
            results[item.index] = BatchResult(item.index, error=unavailable)
            return
        results[item.index] = BatchResult(item.index, receipt=receipt)

    async def _enqueue(self, item: _Item, token: str, results: dict[int, BatchResult]) -> None:
        # A delayed job (or no message builder): the engine's own, blocking enqueue.
        d = self.dispatcher
        job = item.job
        try:
            await asyncio.to_thread(d.dramatiq.enqueue, job, delay_s=item.delay_s)
        except Exception as exc:
            logger.warning(
                "enqueue of %s failed: %r", job.job_id, exc, extra={"job_id": job.job_id}
            )
            await self._after_failed(item, token, exc, results)
            return
        results[item.index] = BatchResult(item.index, receipt=_on_dramatiq(item))

    async def _to_temporal(
        self, fallbacks: list[_Fallback], results: dict[int, BatchResult]
    ) -> None:
        fallback = self.dispatcher.fallback
        slots = asyncio.Semaphore(_TEMPORAL_CONCURRENCY)

        async def start(f: _Fallback) -> None:
            item = f.item
            async with slots:
                try:
                    receipt = await fallback.route(
                        item.job, item.encoded, item.delay_s, f.reason, f.cause, redis_ok=f.redis_ok
                    )
                except DispatchUnavailable as exc:
                    results[item.index] = BatchResult(item.index, error=exc)
                    return
            results[item.index] = BatchResult(item.index, receipt=receipt)

        await asyncio.gather(*(start(f) for f in fallbacks))


def _duplicate(admission: Admission, token: str) -> bool:
    # A record carrying this item's own token is its own write, landed by a
    # first attempt whose answer was lost: not a duplicate.
    return not admission.created and admission.token != token


def _unadmitted(item: _Item, cause: RedisUnavailable, may_have_landed: bool) -> _Fallback:
    if may_have_landed:
        # Redis may hold the job and its message after all: the workflow waits
        # for the owner claim instead of running without one.
        item = _Item(
            item.index,
            item.job.model_copy(update={"claim_first": True}),
            item.encoded,
            item.delay_s,
        )
    return _Fallback(item, Reason.REDIS_UNAVAILABLE, cause, False)


def _on_dramatiq(item: _Item) -> DispatchReceipt:
    return DispatchReceipt(job_id=item.job.job_id, engine=ENGINE_DRAMATIQ, reason=Reason.OK)
