"""The same job_id dispatched twice, also across a Redis outage: one execution."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jobrelay.devservers import RedisServer
from jobrelay.dispatcher import Dispatcher, Reason
from jobrelay.queue import QueueSettings

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any


@pytest.fixture
def aof_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own that keeps its data across a restart."""
    server = RedisServer(aof=True).start()
    try:
        yield server
    finally:
        server.stop()


async def _healthy_again(dispatcher: Dispatcher, within_s: float = 10.0) -> None:
    for _ in range(int(within_s / 0.05)):
        if dispatcher.health.is_healthy():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("Redis never looked healthy again")


async def test_same_job_id_twice_runs_once(
    stack: Stack, runs: Callable[[str], list[str]], prefix: str
) -> None:
    job_id = f"{prefix}twice"
    stack.start_dramatiq()
    await stack.start_temporal()
    dispatcher = stack.dispatcher()
    first = await dispatcher.dispatch("dsp.ping", {"n": 1}, job_id=job_id)
    second = await dispatcher.dispatch("dsp.ping", {"n": 2}, job_id=job_id)
    await stack.wait_finished(job_id)
    third = await dispatcher.dispatch("dsp.ping", {"n": 3}, job_id=job_id, confirm="pickup")
    assert (first.engine, first.deduplicated) == ("dramatiq", False)
    assert second.model_dump() == third.model_dump() == {**first.model_dump(), "deduplicated": True}
    await stack.drained()
    assert runs(job_id) == ["dramatiq"]


async def test_dramatiq_first_then_redis_down_then_again(
    make_stack: Callable[..., Stack],
    aof_redis: RedisServer,
    prefix: str,
    runs: Callable[[str], list[str]],
) -> None:
    job_id = f"{prefix}across"
    stack = make_stack(QueueSettings(redis_url=aof_redis.url, prefix=prefix))
    stack.start_dramatiq()
    dispatcher = stack.dispatcher()
    first = await dispatcher.dispatch("dsp.ping", {}, job_id=job_id)
    assert first.engine == "dramatiq"
    await stack.wait_finished(job_id)
    stack.stop_dramatiq()
    aof_redis.stop()
    second = await dispatcher.dispatch("dsp.ping", {}, job_id=job_id)
    # Redis cannot be asked: not detectable here, so Temporal gets a workflow...
    assert (second.engine, second.reason, second.deduplicated) == (
        "temporal",
        Reason.REDIS_UNAVAILABLE,
        False,
    )
    aof_redis.start()
    await stack.start_temporal()
    # ...whose claim finds the job owned by Dramatiq and ends without running it.
    assert (await stack.outcome(job_id)).duplicate_of == "dramatiq"
    await _healthy_again(dispatcher)
    third = await dispatcher.dispatch("dsp.ping", {}, job_id=job_id)
    assert (third.engine, third.deduplicated) == ("dramatiq", True)
    assert runs(job_id) == ["dramatiq"]


async def test_temporal_while_redis_down_then_again_when_it_is_back(
    make_stack: Callable[..., Stack],
    aof_redis: RedisServer,
    prefix: str,
    runs: Callable[[str], list[str]],
) -> None:
    job_id = f"{prefix}back"
    stack = make_stack(QueueSettings(redis_url=aof_redis.url, prefix=prefix))
    stack.start_dramatiq()
    dispatcher = stack.dispatcher()
    assert (await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}warm")).engine == "dramatiq"
    aof_redis.stop()
    first = await dispatcher.dispatch("dsp.ping", {}, job_id=job_id)
    assert (first.engine, first.reason) == ("temporal", Reason.REDIS_UNAVAILABLE)
    # The workflow runs while Redis is still down: nothing in Redis knows the job.
    await stack.start_temporal()
    assert (await stack.outcome(job_id)).duplicate_of is None
    assert runs(job_id) == ["temporal"]
    aof_redis.start()
    await _healthy_again(dispatcher)
    # This dispatcher remembered the job and writes its record first: detected.
    second = await dispatcher.dispatch("dsp.ping", {}, job_id=job_id)
    assert (second.engine, second.reason, second.deduplicated) == (
        "temporal",
        Reason.REDIS_UNAVAILABLE,
        True,
    )
    await asyncio.sleep(0.5)
    await stack.drained()
    assert runs(job_id) == ["temporal"]
    status = await dispatcher.get_status(job_id)
    assert (status.engine, status.state) == ("temporal", "succeeded")
    # A dispatcher in another process, which cannot know, is caught by the record too.
    other = stack.dispatcher()
    assert (await other.dispatch("dsp.ping", {}, job_id=job_id)).deduplicated is True
    assert runs(job_id) == ["temporal"]
