"""The circuit breaker with real engines: a dead Redis costs one timeout, then none."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jobrelay.devservers import RedisServer
from jobrelay.dispatcher import DispatchReceipt, Reason
from jobrelay.queue import QueueSettings

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any


@pytest.fixture
def frozen_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own that the test may freeze (SIGSTOP) and restart."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        if server.running():
            os.kill(server.pid, signal.SIGCONT)
        server.stop()


async def test_breaker_skips_a_frozen_redis_then_brings_traffic_back(
    make_stack: Callable[..., Stack],
    frozen_redis: RedisServer,
    prefix: str,
    runs: Callable[[str], list[str]],
) -> None:
    # A 4 s breaker reset: long enough that the 100 dispatches below meet no
    # half-open probe, short enough to come back within 5 s of a restart.
    settings = QueueSettings(redis_url=frozen_redis.url, prefix=prefix, breaker_reset_ms=4000)
    stack = make_stack(settings)
    stack.start_dramatiq()
    dispatcher = stack.dispatcher()
    assert (await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}w")).engine == "dramatiq"

    # Frozen, not stopped: connections hang until the read timeout, as with a
    # Redis behind a dead network. A stopped one refuses at once.
    os.kill(frozen_redis.pid, signal.SIGSTOP)
    durations: list[float] = []
    receipts: list[DispatchReceipt] = []
    for i in range(100):
        started = time.perf_counter()
        receipts.append(await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}c{i}"))
        durations.append(time.perf_counter() - started)
    assert {(r.engine, r.reason) for r in receipts} == {("temporal", Reason.REDIS_UNAVAILABLE)}
    timeout_s = settings.read_timeout_ms / 1000
    assert durations[0] >= timeout_s * 0.9, durations[0]  # the first pays the timeout...
    assert max(durations[1:]) < timeout_s / 2, sorted(durations)[-3:]  # ...and only the first

    os.kill(frozen_redis.pid, signal.SIGCONT)
    frozen_redis.stop()
    frozen_redis.start()
    restarted = time.monotonic()
    back: DispatchReceipt | None = None
    i = 0
    while time.monotonic() - restarted < 5:
        receipt = await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}b{i}")
        i += 1
        if receipt.engine == "dramatiq":
            back = receipt
            break
        await asyncio.sleep(0.05)
    assert back is not None, "dispatches did not return to Dramatiq within 5 s"
    assert back.reason is Reason.OK

    # Every job accepted during the outage is held by Temporal; a sample runs,
    # once, on Temporal. (Its worker starts only now: its sandbox's CPU use
    # would blur the timings above, and running all of them costs ~40 s here.)
    for receipt in receipts:
        handle = stack.temporal_client.get_workflow_handle(receipt.job_id)
        assert (await handle.describe()).id == receipt.job_id
    sample = receipts[:5] + receipts[-5:]
    for job_id in [r.job_id for r in receipts[5:-5]] + [f"{prefix}b{n}" for n in range(i - 1)]:
        await stack.temporal_client.get_workflow_handle(job_id).terminate("not in the sample")
    await stack.start_temporal()
    for receipt in sample:
        assert (await stack.outcome(receipt.job_id, 60)).duplicate_of is None
    assert {r.job_id: runs(r.job_id) for r in sample} == {r.job_id: ["temporal"] for r in sample}
