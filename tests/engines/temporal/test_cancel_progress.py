"""Progress is readable while a job runs; cancelling stops it at the running step."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest
import redis
from jobrelay.devservers import RedisServer
from jobrelay.engines.temporal import STATUS_QUERY, TemporalAdapter, WorkflowStatus
from jobrelay.queue import JobState, JobStore, QueueSettings, redis_client
from temporal_adapter_support import (
    StartWorker,
    engine_job,
    handle,
    wait_for_status,
    wait_until,
)
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError


def release(probe: dict[str, str]) -> None:
    client = redis.Redis.from_url(probe["redis_url"])
    try:
        client.set(f"{probe['key']}:release", 1, ex=60)
    finally:
        client.close()


async def test_progress_is_readable_while_the_job_runs(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.blocker", probe)
    await adapter.start(job)
    await wait_until(lambda: effects().get("wait") == 1, what="the blocking step to start")

    wf = handle(client, job.job_id)
    live = await wf.query(STATUS_QUERY, result_type=WorkflowStatus)
    assert (live.state, live.progress, live.message) == ("running", 40, "waiting for release")
    record = store.get(job.job_id)
    assert record is not None
    assert (record.state, record.progress, record.message) == (
        JobState.RUNNING,
        40,
        "waiting for release",
    )
    status = await adapter.describe(job.job_id)
    assert status is not None
    assert (status["state"], status["progress"]) == ("running", 40)

    release(probe)
    outcome = await wf.result()
    assert outcome.result == {"values": [1, 1], "attempt": 1}
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.SUCCEEDED and record.progress == 100


async def test_cancel_stops_a_job_during_a_step(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.blocker", probe)
    await adapter.start(job)
    await wait_until(lambda: effects().get("wait") == 1, what="the blocking step to start")

    assert await adapter.cancel(job.job_id) is True
    await wait_for_status(handle(client, job.job_id), WorkflowExecutionStatus.CANCELED)
    release(probe)  # a late finish of the step must not revive the job

    status = await adapter.describe(job.job_id)
    assert status is not None and status["state"] == "cancelled"
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.CANCELLED
    assert "done" not in effects()
    assert await adapter.cancel(job.job_id) is False


async def test_a_redis_cancel_request_stops_the_job_at_its_next_step(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.blocker", probe)
    await adapter.start(job)
    await wait_until(lambda: effects().get("wait") == 1, what="the blocking step to start")

    assert store.request_cancel(job.job_id) is True
    release(probe)
    with pytest.raises(WorkflowFailureError):
        await handle(client, job.job_id).result()

    assert effects() == {"wait": 1}
    status = await adapter.describe(job.job_id)
    assert status is not None and status["state"] == "cancelled"
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.CANCELLED


async def test_a_cancel_while_the_record_is_being_written_still_cancels_the_job(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    own_redis: RedisServer,
    prefix: str,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    # The job's record lives on a Redis this test freezes, so the write before
    # the job's sleep (a local activity) hangs while the cancel arrives: the
    # long read timeout keeps it hanging for seconds instead of half of one.
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix, read_timeout_ms=8000)
    store = JobStore.from_settings(redis_client(settings), settings)
    await start_worker(settings, store, queue="scheduled")
    job = engine_job("trt.nap_after_release", probe, queue="scheduled")
    await TemporalAdapter(client, settings).start(job)
    await wait_until(lambda: effects().get("wait") == 1, what="the blocking step to start")
    wf = handle(client, job.job_id)

    async def step_done() -> bool:
        # Local activities leave no pending activity to look for; the step's
        # completion is what the workflow answers with that record write.
        events = [e async for e in wf.fetch_history_events()]
        return any(e.HasField("activity_task_completed_event_attributes") for e in events)

    os.kill(own_redis.pid, signal.SIGSTOP)
    try:
        release(probe)
        await wait_until(step_done, what="the blocking step to finish")
        await wf.cancel()
        os.kill(own_redis.pid, signal.SIGCONT)
        # Swallowed with the failed write, the cancel would leave it asleep for an hour.
        await wait_for_status(wf, WorkflowExecutionStatus.CANCELED)
    finally:
        os.kill(own_redis.pid, signal.SIGCONT)
