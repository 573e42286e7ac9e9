"""A paused queue on real engines: its jobs are accepted, wait, and run after the resume."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from jobrelay.dispatcher import Dispatcher, Reason, Reconciler
from jobrelay.dispatcher.testing import MemoryDramatiq, MemoryTemporal
from jobrelay.queue import JobState

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any


async def test_a_paused_queues_jobs_neither_run_nor_move_to_temporal_and_run_after_resume(
    stack: Stack, runs: Callable[[str], list[str]], prefix: str
) -> None:
    stack.start_dramatiq()
    await stack.start_temporal()
    dispatcher = stack.dispatcher()
    assert dispatcher.pauses.pause("default")
    await asyncio.sleep(0.5)  # the consumers see it (they cache it 0.2 s)
    job_id = f"{prefix}held"
    receipt = await dispatcher.dispatch("dsp.ping", {}, job_id=job_id, confirm="pickup")
    # Accepted at once on Dramatiq: no pickup is waited for while paused.
    assert (receipt.engine, receipt.reason) == ("dramatiq", Reason.OK)
    reconciler = Reconciler(stack.store, stack.temporal, lease_s=5, resume_grace_s=30)
    # Long past its pickup deadline, a reconciler still leaves it be.
    report = await reconciler.run_once(now=time.time() + 600)
    assert (report.held, report.moved) == (1, 0)
    await asyncio.sleep(1.0)  # a worker polling the queue would have taken it by now
    record = stack.store.get(job_id)
    assert record is not None and record.state == JobState.QUEUED
    assert stack.store.owner(job_id) is None
    assert runs(job_id) == []

    assert dispatcher.pauses.resume("default")
    await stack.wait_finished(job_id)
    assert runs(job_id) == ["dramatiq"]


async def test_a_paused_queue_takes_jobs_without_a_live_worker_and_keeps_the_grace_after_resume(
    mem_dispatcher: Dispatcher,
    mem_dramatiq: MemoryDramatiq,
    mem_temporal: MemoryTemporal,
    prefix: str,
) -> None:
    pauses = mem_dispatcher.pauses
    pauses.pause("default")
    receipt = await mem_dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}nobody")
    # No worker is alive, and the job waits on Dramatiq all the same.
    assert (receipt.engine, receipt.reason) == ("dramatiq", Reason.OK)
    assert mem_temporal.workflows == {}
    pauses.resume("default")
    reconciler = Reconciler(mem_dispatcher.store, mem_temporal, lease_s=5, resume_grace_s=30)
    within = await reconciler.run_once(now=time.time() + 600)
    assert (within.held, within.moved) == (1, 0)
    # Once the grace is over, the deadline counts again.
    strict = Reconciler(mem_dispatcher.store, mem_temporal, lease_s=5, resume_grace_s=0)
    after = await strict.run_once(now=time.time() + 1200)
    assert after.moved == 1
    assert list(mem_temporal.workflows) == [f"{prefix}nobody"]
