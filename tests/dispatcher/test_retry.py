"""Retrying a failed job on real engines: it runs again, keeping its finished steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from jobrelay.devservers import RedisServer
from jobrelay.dispatcher import DispatcherSettings, JobNotFound, JobNotRetryable, Reason
from jobrelay.queue import JobState
from jobrelay.queue.codec import text

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any


@pytest.fixture
def side(redis_server: RedisServer) -> Callable[[str, str], list[str]]:
    """A job's side-effect lists (``runs`` for its first step, ``second`` for its second)."""
    client = redis.Redis.from_url(redis_server.url)

    def read(job_id: str, which: str) -> list[str]:
        key = f"dsp:{job_id}:runs" if which == "first" else f"dsp:{job_id}:second"
        return [text(v) for v in client.lrange(key, 0, -1)]

    return read


def _allow(redis_server: RedisServer, job_id: str) -> None:
    with redis.Redis.from_url(redis_server.url) as client:
        client.set(f"dsp:{job_id}:ok", "1")


async def test_a_failed_job_retried_on_dramatiq_keeps_its_finished_step(
    stack: Stack, redis_server: RedisServer, side: Callable[[str, str], list[str]], prefix: str
) -> None:
    stack.start_dramatiq()
    dispatcher = stack.dispatcher()
    job_id = f"{prefix}flaky"
    await dispatcher.dispatch("dsp.flaky", {}, job_id=job_id)
    await stack.wait_finished(job_id)
    # Out of attempts: dead-lettered.
    assert (await dispatcher.get_status(job_id)).state == JobState.DEAD

    with pytest.raises(JobNotRetryable) as queued:
        await _retry_a_queued_job(stack, prefix)
    assert queued.value.state == "queued"
    _allow(redis_server, job_id)
    receipt = await dispatcher.retry(job_id)
    assert (receipt.engine, receipt.reason) == ("dramatiq", Reason.OK)
    await stack.wait_finished(job_id)
    status = await dispatcher.get_status(job_id)
    assert (status.state, status.result) == (JobState.SUCCEEDED, 2)
    # The first step finished in the first run and was not run again.
    assert side(job_id, "first") == ["dramatiq"]
    assert side(job_id, "second") == ["dramatiq", "dramatiq"]
    # Succeeded now: nothing to retry.
    with pytest.raises(JobNotRetryable) as refused:
        await dispatcher.retry(job_id)
    assert refused.value.state == "succeeded"
    with pytest.raises(JobNotFound):
        await dispatcher.retry(f"{prefix}unknown")


async def _retry_a_queued_job(stack: Stack, prefix: str) -> None:
    # A job still waiting (delayed a minute) is not retried.
    dispatcher = stack.dispatcher()
    queued = f"{prefix}queued"
    await dispatcher.dispatch("dsp.nap", {"seconds": 30}, job_id=queued, delay=60)
    await dispatcher.retry(queued)


async def test_a_fresh_retry_on_temporal_runs_every_step_again(
    stack: Stack,
    redis_server: RedisServer,
    side: Callable[[str, str], list[str]],
    dsettings: DispatcherSettings,
    prefix: str,
) -> None:
    await stack.start_temporal()
    off = stack.dispatcher(dsettings.model_copy(update={"use_dramatiq": False}))
    job_id = f"{prefix}tflaky"
    await off.dispatch("dsp.flaky", {}, job_id=job_id)
    await stack.wait_finished(job_id)
    assert (await off.get_status(job_id)).state == JobState.DEAD

    _allow(redis_server, job_id)
    receipt = await off.retry(job_id, fresh=True)
    assert (receipt.engine, receipt.reason) == ("temporal", Reason.FLAG_OFF)
    await stack.wait_finished(job_id)
    # A new run of the same workflow id, after the closed (failed) one.
    runs = [w async for w in stack.temporal_client.list_workflows(f"WorkflowId = '{job_id}'")]
    assert len(runs) == 2
    status = await off.get_status(job_id)
    assert (status.state, status.engine) == (JobState.SUCCEEDED, "temporal")
    assert side(job_id, "first") == ["temporal", "temporal"]
    assert side(job_id, "second") == ["temporal", "temporal"]
