from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobrelay.engines import EngineJob, TemporalEngine
from jobrelay.queue import (
    ENGINE_DRAMATIQ,
    AsyncRedis,
    JobState,
    JobStore,
    QueuePauses,
    RedisUnavailable,
    loads,
)

from .ledger import Ledger
from .models import Reason
from .receipts import record_priority
from .temporal_link import TemporalLink

logger = logging.getLogger("jobrelay.reconciler")


@dataclass(slots=True)
class ReconcileReport:
    """What one :meth:`Reconciler.run_once` did."""

    moved: int = 0
    """Unclaimed jobs past their pickup deadline, now claimed and started on Temporal."""
    repaired: int = 0
    """Jobs already owned by ``temporal`` whose start was not confirmed, started again."""
    picked_up: int = 0
    """Overdue jobs a Dramatiq worker claimed after all."""
    dropped: int = 0
    """Pending entries of finished, cancelled or vanished jobs."""
    failed: int = 0
    """Starts that failed; retried once their lease ends."""
    woken: int = 0
    """Sleeping or long-delayed Dramatiq messages sent back to their queues."""
    held: int = 0
    """Overdue jobs of a paused queue, or of one resumed within the grace period: left
    to wait (their lease brings them back)."""


class Reconciler:
    """Enforces the pickup deadline (docs/architecture.md, Ownership: the reconciler).

    Each round leases the overdue entries of the pending set (one caller per
    entry per lease, so any number of reconcilers may run), claims each job
    ``temporal`` with ``SET NX`` and starts its workflow from the record. A
    job whose owner already is ``temporal`` but whose start was never
    confirmed (a dispatcher died between claim and start) is started again:
    the start is idempotent, workflow id = job id. When a start fails, a claim
    this pass won is given back (the job stays pending), so a Dramatiq worker
    can still take the job while Temporal is down. Jobs of a paused queue are
    left to wait, and for ``resume_grace_s`` after its resume.

    It may share an event loop with request handlers (the web app runs one):
    its dispatch steps use :class:`AsyncRedis`, and the store's blocking calls
    run in a worker thread.
    """

    def __init__(
        self,
        store: JobStore,
        temporal: TemporalEngine | TemporalLink,
        *,
        lease_s: float = 30.0,
        batch: int = 100,
        concurrency: int = 16,
        pump_wakeups: Callable[[], int] | None = None,
        resume_grace_s: float = 30.0,
    ) -> None:
        self.store = store
        self.pauses = QueuePauses(store.client, store.keys)
        self.resume_grace_s = resume_grace_s
        self.ledger = Ledger(store.keys)
        self.redis = AsyncRedis.for_client(store.client)
        self.temporal = temporal if isinstance(temporal, TemporalLink) else TemporalLink(temporal)
        self.lease_s = lease_s
        self.batch = batch
        self.concurrency = concurrency
        self._pump_wakeups = pump_wakeups

    async def run_once(self, now: float | None = None) -> ReconcileReport:
        """One pass over the overdue jobs (and due wake-ups); raises RedisUnavailable."""
        report = ReconcileReport()
        if self._pump_wakeups is not None:
            report.woken = await asyncio.to_thread(self._pump_wakeups)
        # Made per pass: a semaphore belongs to the event loop that first waits on it.
        limit = asyncio.Semaphore(self.concurrency)
        while True:
            ids = await asyncio.to_thread(
                self.store.lease_overdue, limit=self.batch, lease_s=self.lease_s, now=now
            )
            await asyncio.gather(*(self._settle(job_id, report, limit) for job_id in ids))
            if len(ids) < self.batch:
                return report

    async def run_forever(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Run a pass every ``interval_s`` until ``stop`` is set; survives outages."""
        while not stop.is_set():
            try:
                report = await self.run_once()
            except RedisUnavailable as exc:
                logger.warning("reconciler pass skipped: %s", exc)
            except Exception:
                logger.exception("reconciler pass failed")
            else:
                if report.moved or report.repaired or report.failed:
                    logger.info(
                        "reconciler moved %d, repaired %d, failed %d",
                        report.moved,
                        report.repaired,
                        report.failed,
                        extra={"moved": report.moved, "repaired": report.repaired},
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    async def _held(self, queue: str) -> bool:
        # A pause is the operator's: no deadline runs while it lasts, and after
        # a resume the workers get the grace period to drain what waited.
        pause = await asyncio.to_thread(self.pauses.state, queue)
        if pause.paused:
            return True
        resumed = pause.resumed_at
        return resumed is not None and time.time() - resumed < self.resume_grace_s

    async def _settle(self, job_id: str, report: ReconcileReport, limit: asyncio.Semaphore) -> None:
        record = await asyncio.to_thread(self.store.get, job_id)
        if record is None or record.state.finished:
            await self.redis.run(self.ledger.confirm_started(job_id))
            report.dropped += 1
            return
        if await self._held(record.queue):
            report.held += 1
            return
        claim = await self.redis.run(
            self.ledger.claim_temporal(job_id, reason=Reason.PICKUP_TIMEOUT, lease_s=self.lease_s)
        )
        if claim.owner == ENGINE_DRAMATIQ:
            report.picked_up += 1
            return
        if claim.state is None or JobState(claim.state).finished:
            report.dropped += 1
            return
        if claim.won and record.cancel_requested:
            await asyncio.to_thread(
                self.store.finish, job_id, JobState.CANCELLED, error="cancelled before it started"
            )
            report.dropped += 1
            return
        job = EngineJob(
            job_id=job_id,
            name=record.name,
            queue=record.queue,
            payload=loads(record.payload),
            priority=record_priority(record),
        )
        started = time.perf_counter()
        try:
            async with limit:
                # A retried job's earlier workflow is closed: it may run again.
                rerun = bool(record.extra.get("reruns"))
                await (await self.temporal.get()).start(job, delay_s=None, rerun=rerun)
        except Exception as exc:
            logger.warning(
                "reconciler could not start %s on Temporal: %r", job_id, exc,
                extra={"job_id": job_id},
            )  # fmt: skip
            report.failed += 1
            if claim.won:
                # Give the claim back: a Dramatiq worker may still take the job
                # while Temporal is down; otherwise the next lease tries again.
                await self.redis.run(
                    self.ledger.release(job_id, "", deadline=time.time() + self.lease_s)
                )
            return
        await self.redis.run(self.ledger.confirm_started(job_id))
        if claim.won:
            report.moved += 1
        else:
            report.repaired += 1
        logger.info(
            "reconciler started %s on temporal (%s)",
            job_id,
            "pickup_timeout" if claim.won else "repair",
            extra={
                "job_id": job_id,
                "engine": "temporal",
                "reason": Reason.PICKUP_TIMEOUT.value,
                "repair": not claim.won,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )
