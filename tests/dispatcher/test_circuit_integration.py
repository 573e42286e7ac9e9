"""The circuit breaker with real engines: a dead Redis costs one timeout, then none."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from jobrelay.devservers import RedisServer
from jobrelay.dispatcher import DispatchReceipt, Reason
from jobrelay.queue import BreakerState, CircuitBreaker, QueueSettings, RedisHealth

# A hundred Temporal starts and their outcomes: past the suite's 120 s per
# test on a loaded machine.
pytestmark = pytest.mark.timeout(300)

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any


async def test_breaker_skips_a_own_redis_then_brings_traffic_back(
    make_stack: Callable[..., Stack],
    own_redis: RedisServer,
    prefix: str,
    runs: Callable[[str], list[str]],
    count_redis_calls: Callable[..., list[None]],
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    stack = make_stack(settings)
    # The breaker's clock moves on when the test says so: no half-open probe
    # meets the 100 dispatches below however slowly they run, and the reset is
    # over as soon as Redis is back.
    clock = _Clock()
    health = RedisHealth(
        stack.client,
        cache_s=settings.health_cache_ms / 1000,
        breaker=CircuitBreaker(
            failure_threshold=settings.breaker_failure_threshold,
            reset_after_s=_RESET_S,
            clock=clock,
        ),
    )
    # The in-process Dramatiq worker and heartbeat share the client from threads
    # of their own: only this thread's calls count.
    calls = count_redis_calls(stack.client, this_thread_only=True)
    stack.start_dramatiq()
    dispatcher = stack.dispatcher(health=health)
    assert (await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}w")).engine == "dramatiq"

    # Frozen, not stopped: connections hang until the read timeout, as with a
    # Redis behind a dead network. A stopped one refuses at once.
    os.kill(own_redis.pid, signal.SIGSTOP)
    receipts: list[DispatchReceipt] = []
    asked: list[int] = []  # Redis calls each dispatch made
    for i in range(100):
        before = len(calls)
        receipts.append(await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}c{i}"))
        asked.append(len(calls) - before)
    assert {(r.engine, r.reason) for r in receipts} == {("temporal", Reason.REDIS_UNAVAILABLE)}
    # One timeout, then none: the first dispatch still asked the frozen Redis
    # (its read timed out and opened the breaker); the other 99 never did, so
    # none of them could wait for a timeout. (Their latency is for bench/.)
    assert asked[0] >= 1, asked[:3]
    assert sum(asked[1:]) == 0, asked
    assert health.state is BreakerState.OPEN
    assert len(dispatcher.fallback.backfill) == len(receipts)  # records wait for Redis

    os.kill(own_redis.pid, signal.SIGCONT)
    own_redis.stop()
    own_redis.start()
    clock.skew += _RESET_S  # the reset is over: the next check probes Redis
    # Back within a dispatch or two (the probe, then the worker's next
    # heartbeat into the restarted, empty Redis); a breaker that never closed
    # again would keep every dispatch on Temporal for good.
    back: DispatchReceipt | None = None
    i = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        receipt = await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}b{i}")
        i += 1
        if receipt.engine == "dramatiq":
            back = receipt
            break
        await asyncio.sleep(0.05)
    assert back is not None, "dispatches never returned to Dramatiq after the restart"
    assert back.reason is Reason.OK
    assert health.state is BreakerState.CLOSED  # type: ignore[comparison-overlap]

    # Every job accepted during the outage is held by Temporal; a sample runs,
    # once, on Temporal. (Its worker starts only now: running all of them
    # costs ~40 s here.)
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


# Far longer than any test: the breaker half-opens only when the test moves its clock.
_RESET_S = 3600.0


class _Clock:
    """``time.monotonic`` plus a skew the test adds to."""

    def __init__(self) -> None:
        self.skew = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skew
