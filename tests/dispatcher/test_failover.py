"""A Redis failover under load, on real engines: Sentinel, a replica, the replica wait.

kill -9 the master while jobs are dispatched and run: the sentinels promote
the replica, dispatch carries on (through Temporal during the gap), the
workers move to the new master, and with the replica wait on no accepted
job is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from jobrelay.dispatcher import DispatcherSettings, DispatchUnavailable, Reason

# The Stack of conftest.py and the SentinelSet of tests/conftest.py.
Stack = Any
SentinelSet = Any

# A failover, the Temporal gap and every job's run, on a loaded machine.
pytestmark = pytest.mark.timeout(300)


async def test_no_accepted_job_is_lost_when_the_master_dies_mid_dispatch(
    make_stack: Callable[..., Stack],
    sentinel_set: SentinelSet,
    dsettings: DispatcherSettings,
    runs: Callable[[str], list[str]],
    prefix: str,
) -> None:
    settings = dsettings.model_copy(update={"replica_wait": 1, "replica_wait_ms": 200})
    stack = make_stack(sentinel_set.settings(prefix), settings)
    stack.start_dramatiq()
    await stack.start_temporal()
    dispatcher = stack.dispatcher()
    accepted: dict[str, str] = {}
    after: list[str] = []  # accepted on Dramatiq once the replica was promoted
    refused = 0
    deadline = time.monotonic() + 90
    n = 0
    # Before the failover, then on until Dramatiq takes jobs again from the
    # new master (the breaker's reset, the worker's next heartbeat).
    while n < 120 or (len(after) < 10 and time.monotonic() < deadline):
        if n == 40:
            await asyncio.to_thread(sentinel_set.fail_master)
        job_id = f"{prefix}f{n}"
        try:
            receipt = await dispatcher.dispatch("dsp.ping", {"n": n}, job_id=job_id)
        except DispatchUnavailable:
            refused += 1  # not accepted: the caller knows, nothing is owed
        else:
            accepted[job_id] = receipt.engine
            if n > 40 and receipt.engine == "dramatiq":
                after.append(job_id)
        n += 1
        await asyncio.sleep(0.02)
    # Dispatch carried on: most jobs were accepted, and Dramatiq came back.
    assert len(accepted) >= 0.8 * n, (len(accepted), refused, n)
    assert len(after) >= 10, "Dramatiq never took jobs again after the failover"

    # Every accepted job runs, on one engine or the other.
    deadline = time.monotonic() + 120
    missing = sorted(accepted)
    while missing and time.monotonic() < deadline:
        missing = [job_id for job_id in missing if not runs(job_id)]
        await asyncio.sleep(0.25)
    assert missing == [], f"{len(missing)} accepted jobs never ran, e.g. {missing[:5]}"
    # The workers carried on against the new master: its jobs ran on Dramatiq.
    assert {runs(job_id)[0] for job_id in after} == {"dramatiq"}


async def test_a_write_no_replica_acknowledges_goes_to_temporal(
    make_stack: Callable[..., Stack],
    sentinel_set: SentinelSet,
    dsettings: DispatcherSettings,
    runs: Callable[[str], list[str]],
    prefix: str,
) -> None:
    # Two replicas wanted, one exists: the wait never holds.
    settings = dsettings.model_copy(update={"replica_wait": 2, "replica_wait_ms": 50})
    stack = make_stack(sentinel_set.settings(prefix), settings)
    stack.start_heartbeat()  # a live worker; nothing consumes
    await stack.start_temporal()
    job_id = f"{prefix}thin"
    receipt = await stack.dispatcher().dispatch("dsp.ping", {}, job_id=job_id)
    assert (receipt.engine, receipt.reason) == ("temporal", Reason.ENQUEUE_FAILED)
    await stack.outcome(job_id)
    assert runs(job_id) == ["temporal"]
    # Its Dramatiq message was written too, and can never run it: owner temporal.
    assert stack.store.owner(job_id) == "temporal"
