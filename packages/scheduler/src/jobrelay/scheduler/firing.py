"""Firing one tick: a dispatch whose job id is the schedule's and the tick's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from jobrelay.dispatcher import DispatchReceipt, JobNotFound, StatusUnavailable
from jobrelay.job_engine import Schedule, tick_job_id

if TYPE_CHECKING:
    from jobrelay.dispatcher import Dispatcher

logger = logging.getLogger("jobrelay.scheduler")


@dataclass(frozen=True, slots=True)
class Firing:
    """One tick fired: its job id and receipt. ``new`` is false when the tick had been
    fired before (by another scheduler, or before a restart): it still ran once."""

    schedule_id: str
    tick: datetime
    job_id: str
    receipt: DispatchReceipt | None
    new: bool


async def fire(dispatcher: Dispatcher, schedule: Schedule, tick: datetime) -> Firing:
    """Dispatch ``schedule``'s job for ``tick``; raises what the dispatch raises.

    The dispatch's job id deduplicates the tick on both engines. One case it
    cannot see is asked of Temporal first: a tick fired while Redis was down
    has a workflow and no record yet, and a dispatch now (Redis back) would
    admit a second run on Dramatiq.
    """
    assert schedule.job is not None, "a schedule fires after its job is known"
    job_id = tick_job_id(schedule.id, tick)
    if await _on_temporal(dispatcher, job_id):
        return Firing(schedule.id, tick, job_id, None, new=False)
    receipt = await dispatcher.dispatch(schedule.job, schedule.payload, job_id=job_id)
    return Firing(schedule.id, tick, job_id, receipt, new=not receipt.deduplicated)


async def unfinished(dispatcher: Dispatcher, job_id: str | None) -> bool:
    """Whether the firing ``job_id`` is still queued, running or sleeping.

    An unknown job, or one neither engine can tell about now, counts as
    finished: a tick is never held back on a guess.
    """
    if job_id is None:
        return False
    try:
        status = await dispatcher.get_status(job_id)
    except (JobNotFound, StatusUnavailable):
        return False
    return not status.state.finished


async def _on_temporal(dispatcher: Dispatcher, job_id: str) -> bool:
    try:
        engine = await dispatcher.temporal.get()
        return await engine.describe(job_id) is not None
    except Exception as exc:
        # Temporal down: no run of this tick can start there either.
        logger.debug("Temporal not asked about %s: %r", job_id, exc)
        return False
