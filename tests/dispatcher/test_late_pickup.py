"""The reconciler with real engines: a job nobody picked up moves to Temporal and runs once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from jobrelay.dispatcher import DispatcherSettings, Reconciler

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any


async def test_late_pickup_moves_to_temporal_and_the_stale_message_is_dropped(
    stack: Stack, runs: Callable[[str], list[str]], dsettings: DispatcherSettings, prefix: str
) -> None:
    late1 = f"{prefix}late1"
    # A heartbeat says a worker is alive, but it consumes nothing (stuck, say).
    stack.start_heartbeat()
    await stack.start_temporal()
    short = dsettings.model_copy(update={"pickup_deadline_s": 0.5})
    dispatched = time.time()
    receipt = await stack.dispatcher(short).dispatch("dsp.ping", {"n": 1}, job_id=late1)
    assert receipt.engine == "dramatiq"
    assert stack.queued_messages() == 1
    reconciler = Reconciler(stack.store, stack.temporal, lease_s=5)
    # Passes at given instants: "not overdue yet" holds however slowly this runs.
    assert (await reconciler.run_once(now=dispatched)).moved == 0  # not overdue yet
    report = await reconciler.run_once(now=time.time() + 0.6)  # past the 0.5 s deadline
    assert report.moved == 1
    assert (await stack.outcome(late1)).duplicate_of is None
    assert runs(late1) == ["temporal"]
    # Now a Dramatiq worker turns up and gets the stale message: it must drop it.
    stack.start_dramatiq()
    await stack.drained()
    await asyncio.sleep(0.3)
    assert runs(late1) == ["temporal"]
    status = await stack.dispatcher().get_status(late1)
    assert (status.state, status.engine) == ("succeeded", "temporal")
    assert status.reason == "pickup_timeout"
    assert (await reconciler.run_once()).moved == 0


async def test_two_reconcilers_loop_together_and_each_job_runs_once(
    stack: Stack, runs: Callable[[str], list[str]], dsettings: DispatcherSettings, prefix: str
) -> None:
    stack.start_heartbeat()
    await stack.start_temporal()
    short = stack.dispatcher(dsettings.model_copy(update={"pickup_deadline_s": 0.3}))
    ids = [f"{prefix}late{i}" for i in range(30)]
    for job_id in ids:
        await short.dispatch("dsp.ping", {}, job_id=job_id)
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(Reconciler(stack.store, stack.temporal).run_forever(stop, 0.1))
        for _ in range(3)
    ]
    try:
        await stack.wait_finished(*ids, within_s=60)
    finally:
        stop.set()
        await asyncio.gather(*loops)
    stack.start_dramatiq()
    await stack.drained()
    await asyncio.sleep(0.3)
    assert {job_id: runs(job_id) for job_id in ids} == {job_id: ["temporal"] for job_id in ids}
