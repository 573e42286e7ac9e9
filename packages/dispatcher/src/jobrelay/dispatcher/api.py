"""``dispatch_job``, ``get_job_status``, ``get_job_detail`` and ``cancel_job`` on the default
dispatcher."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from .defaults import default_dispatcher
from .models import BatchResult, Confirm, DispatchReceipt, JobDetail, JobRequest, JobStatus


async def dispatch_job(
    name: str,
    payload: Any,
    *,
    job_id: str | None = None,
    delay: timedelta | float | None = None,
    confirm: Confirm = "admission",
    priority: str | int | None = None,
) -> DispatchReceipt:
    """Hand job ``name`` to Dramatiq, or to Temporal when Dramatiq cannot take it.

    ``payload`` is a dict or the job's pydantic model, validated before
    anything is sent (``UnknownJob``, ``InvalidPayload``, ``PayloadTooLarge``).
    ``job_id`` is the idempotency key: dispatching an id again returns the
    first receipt with ``deduplicated=True``. ``delay`` (seconds or a
    timedelta) postpones the start. ``confirm="pickup"`` also waits up to
    ``PICKUP_TIMEOUT_MS`` for a worker to claim the job, then moves it to
    Temporal. ``priority`` (``high``, ``normal``, ``low`` or 1 first to 5
    last) orders it among the jobs waiting in its queue, on either engine.
    A job declared with ``unique_for`` dispatched again with the same key
    within the window gets the first job's receipt, ``deduplicated=True``.
    Raises ``DispatchUnavailable`` when no engine accepted the job.
    """
    return await default_dispatcher().dispatch(
        name, payload, job_id=job_id, delay=delay, confirm=confirm, priority=priority
    )


async def dispatch_many(jobs: Iterable[JobRequest | Mapping[str, Any]]) -> list[BatchResult]:
    """Dispatch a batch of jobs; one :class:`BatchResult` per item, in order.

    Items are ``JobRequest`` objects or dicts with ``name``, ``payload`` and
    optionally ``job_id`` and ``delay``. A bad item gets its error in its
    place and the others go on; the Dramatiq-bound items cost one Redis
    round trip for the whole batch. Raises ``InvalidDispatch`` for a batch
    over ``JOBRELAY_MAX_BATCH_SIZE``.
    """
    return await default_dispatcher().dispatch_many(jobs)


async def get_job_status(job_id: str) -> JobStatus:
    """Status of a job on either engine; ``JobNotFound`` when none knows it."""
    return await default_dispatcher().get_status(job_id)


async def get_job_detail(job_id: str) -> JobDetail:
    """A job's status with its payload, attempts, steps, flow control and Temporal run
    (what ``GET /jobs/{id}`` answers); ``JobNotFound`` when no engine knows it."""
    return await default_dispatcher().get_detail(job_id)


async def cancel_job(job_id: str) -> bool:
    """Ask a job to stop on whichever engine holds it; False if it had already finished.

    Raises ``JobNotFound`` for an unknown id.
    """
    return await default_dispatcher().cancel(job_id)
