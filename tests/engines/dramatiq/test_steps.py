from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import dramatiq
import pytest
from jobrelay.devservers import RedisServer
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter
from jobrelay.engines.dramatiq.worker import DramatiqContext
from jobrelay.job_engine import SUCCESS_HOOK_STEP
from jobrelay.queue import (
    JobRecord,
    JobState,
    JobStore,
    QueueSettings,
    RedisUnavailable,
    redis_client,
)
from store_peek import load_steps


def test_runs_each_step_once_and_stores_the_result(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
    store: JobStore,
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.three_steps")

    record = wait_for(job_id, JobState.SUCCEEDED)

    assert json.loads(record.result) == {"one": 1, "two": 1, "three": 1}
    assert counts(job_id) == {"one": 1, "two": 1, "three": 1}
    assert record.engine == "dramatiq" and record.attempts == 1 and record.progress == 100
    assert store.owner(job_id) == "dramatiq"
    assert set(load_steps(store, job_id)) == {"one", "two", "three"}


def test_progress_is_readable_while_the_job_runs(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    until: Callable[..., None],
    store: JobStore,
    redis_conn: Any,
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.three_steps", {"gate": True})

    def progress_shown() -> bool:
        record = store.get(job_id)
        return record is not None and record.progress == 33

    until(progress_shown, what="progress 33")
    record = store.get(job_id)
    assert record is not None
    assert record.state is JobState.RUNNING and record.message == "one done"

    redis_conn.set(testjobs.key(job_id, "gate"), "open")
    assert wait_for(job_id, JobState.SUCCEEDED).progress == 100


def test_cancel_stops_at_the_next_step_boundary(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    until: Callable[..., None],
    counts: Callable[[str], dict[str, int]],
    store: JobStore,
    redis_conn: Any,
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.three_steps", {"gate": True})
    # Step two's body is running: a cancel now can only stop what comes after it.
    until(lambda: bool(redis_conn.exists(testjobs.key(job_id, "two-waiting"))), what="step two")

    assert store.request_cancel(job_id)
    redis_conn.set(testjobs.key(job_id, "gate"), "open")  # let the step in flight finish

    record = wait_for(job_id, JobState.CANCELLED)
    assert "cancelled before 'three'" in (record.error or "")
    assert counts(job_id) == {"one": 1, "two": 1}


def test_a_cancel_before_pickup_runs_nothing(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
    store: JobStore,
) -> None:
    job_id = submit("dtest.three_steps")
    store.request_cancel(job_id)
    workers(adapter, ["default"])

    wait_for(job_id, JobState.CANCELLED)
    assert counts(job_id) == {}


@pytest.mark.parametrize(
    ("name", "payload", "step", "ran"),
    [
        ("dtest.gated_hook", {}, SUCCESS_HOOK_STEP, {"one": 1, "hook": 1, "gate": 1}),
        ("dtest.three_steps", {"gate": True}, "two", {"one": 1, "two": 1, "three": 1, "gate": 1}),
    ],
    ids=["hook", "step"],
)
def test_a_second_delivery_waits_for_the_step_another_delivery_is_running(
    name: str,
    payload: dict[str, Any],
    step: str,
    ran: dict[str, int],
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
    redis_conn: Any,
    until: Callable[..., None],
) -> None:
    namespace = adapter.broker.namespace
    workers(adapter, ["default"], threads=2)
    job_id = submit(name, payload)
    until(lambda: redis_conn.exists(adapter.store.keys.step_lease(job_id, step)))
    # What a frozen worker's redelivered message is: the same job, delivered
    # again while the first delivery is inside the (gated) step.
    adapter.enqueue(
        EngineJob(job_id=job_id, name=name, queue="default", payload=payload), delay_s=None
    )
    # It meets the lease and is put back as a delayed copy.
    until(lambda: redis_conn.hlen(f"{namespace}:default.DQ.msgs") == 1)
    redis_conn.set(testjobs.key(job_id, "gate"), 1)

    record = wait_for(job_id, JobState.SUCCEEDED)
    # The copy comes back, finds the job finished and is dropped.
    until(
        lambda: (
            redis_conn.hlen(f"{namespace}:default.DQ.msgs") == 0
            and redis_conn.hlen(f"{namespace}:default.msgs") == 0
        ),
        timeout=15,
    )

    assert counts(job_id) == ran
    assert record.attempts == 1


async def _one() -> int:
    return 1


async def test_a_step_waiting_for_redis_leaves_the_event_loop_to_the_other_jobs(
    own_redis: RedisServer, prefix: str
) -> None:
    # Every async job of a worker runs on Dramatiq's one event loop: a Redis
    # call made on it would stop them all until its timeout.
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    store = JobStore.from_settings(redis_client(settings), settings)
    assert store.create(JobRecord(job_id="loop-1", name="dtest.quick", queue="default"))
    ctx = DramatiqContext("loop-1", 1, store=store, memo={}, clock=time.time, sleep_threshold_s=1.0)
    ticks = 0

    async def other_job() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    other = asyncio.ensure_future(other_job())
    os.kill(own_redis.pid, signal.SIGSTOP)
    try:
        with pytest.raises(RedisUnavailable):
            await ctx.run("one", _one)  # the step's lookup waits out the read timeout
        assert ticks > 0, "the event loop stood still while the step waited for Redis"
    finally:
        os.kill(own_redis.pid, signal.SIGCONT)
        other.cancel()
