"""The step activity run by the SDK's activity environment, against a real Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import uuid
from collections.abc import Callable

from jobrelay.devservers import RedisServer
from jobrelay.engines.temporal.models import StepInput, StepOutput
from jobrelay.engines.temporal.worker import JobActivities
from jobrelay.job_engine import step_ref
from jobrelay.queue import JobRecord, JobStore, QueueSettings, redis_client
from store_peek import load_steps
from temporal_adapter_test_jobs import bump
from temporalio.testing import ActivityEnvironment


def _environment(attempt: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return env


def _step(store: JobStore, probe: dict[str, str]) -> StepInput:
    job_id = f"act-{uuid.uuid4().hex[:8]}"
    assert store.create(JobRecord(job_id=job_id, name="trt.three_steps", queue="default"))
    return StepInput(job_id=job_id, step_id="one", ref=step_ref(bump), args=[probe, "one"])


async def test_a_step_keeps_its_result_and_a_retry_returns_it_without_running_again(
    store: JobStore, probe: dict[str, str], effects: Callable[[], dict[str, int]]
) -> None:
    activities = JobActivities(store)
    call = _step(store, probe)

    first: StepOutput = await _environment(1).run(activities.step, call)
    # The worker died before Temporal heard of the first run: attempt 2 comes.
    again: StepOutput = await _environment(2).run(activities.step, call)

    assert first.value == again.value == "1"
    assert effects() == {"one": 1}
    assert load_steps(store, call.job_id) == {"one": "1"}


async def test_a_retry_after_a_failed_run_runs_the_step(
    store: JobStore, probe: dict[str, str], effects: Callable[[], dict[str, int]]
) -> None:
    activities = JobActivities(store)
    call = _step(store, probe)  # attempt 1 failed: it left no result

    out: StepOutput = await _environment(2).run(activities.step, call)

    assert out.value == "1"
    assert effects() == {"one": 1}


async def test_a_retry_waits_for_redis_to_learn_whether_the_step_already_finished(
    own_redis: RedisServer,
    prefix: str,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    store = JobStore.from_settings(redis_client(settings), settings)
    activities = JobActivities(store)
    call = _step(store, probe)
    first: StepOutput = await _environment(1).run(activities.step, call)

    # The worker died before Temporal heard of the first run, and Redis does
    # not answer when attempt 2 starts: the retry must not run the step blind.
    retry_env = _environment(2)
    waiting = asyncio.Event()
    retry_env.on_heartbeat = lambda *details: waiting.set()
    os.kill(own_redis.pid, signal.SIGSTOP)
    try:
        retry = asyncio.ensure_future(retry_env.run(activities.step, call))
        waiter = asyncio.ensure_future(waiting.wait())
        # A hang detector, not a timing: the retry heartbeats while it waits.
        await asyncio.wait({retry, waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        assert waiting.is_set(), "the retry did not wait for Redis"
        assert effects() == {"one": 1}, "the step ran again while Redis was away"
    finally:
        os.kill(own_redis.pid, signal.SIGCONT)
    again: StepOutput = await asyncio.wait_for(retry, 60)

    assert first.value == again.value == "1"
    assert effects() == {"one": 1}
