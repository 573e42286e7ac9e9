"""Durable sleeps: an hour in seconds with time skipping; a visible, cancellable sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from jobrelay.engines.temporal import TemporalAdapter
from jobrelay.queue import JobState, JobStore, QueueSettings
from temporal_adapter_support import (
    StartWorker,
    engine_job,
    handle,
    wait_for_status,
    wait_until,
)
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import TimeSkipper


async def test_an_hour_long_sleep_finishes_in_seconds_with_time_skipping(
    client: Client,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    # The session dev server runs with frontend.WorkflowTimeSkippingEnabled; the
    # skipper stamps a time-skipping config on each workflow it starts.
    skipper = TimeSkipper(client)
    adapter = TemporalAdapter(skipper.client, queue_settings)
    await start_worker(queue_settings, store, queue="scheduled")
    job = engine_job("trt.sleeper", probe, queue="scheduled")

    await adapter.start(job)
    wf = handle(client, job.job_id)
    # Seconds of real time with skipping (how many is not the point); without
    # it the result takes the full hour. 60 s is room for a loaded machine and
    # still fails that by a factor of 60.
    outcome = await asyncio.wait_for(wf.result(), 60)

    assert outcome.result == {"values": [1, 1], "attempt": 1}
    assert effects() == {"before": 1, "after": 1}
    timers = [
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        async for e in wf.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert timers == [timedelta(hours=1)]
    described = await wf.describe()
    assert described.close_time is not None
    assert described.close_time - described.start_time >= timedelta(hours=1)
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.SUCCEEDED


async def test_a_sleeping_job_shows_sleeping_and_can_be_cancelled(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store, queue="scheduled")
    job = engine_job("trt.sleeper", probe, queue="scheduled")
    await adapter.start(job)

    async def sleeping() -> bool:
        status = await adapter.describe(job.job_id)
        return status is not None and status["state"] == "sleeping"

    await wait_until(sleeping, what="the query to report sleeping")
    # The query answers from the workflow at once; Redis learns it from the
    # record activity that runs just before the sleep starts.
    await wait_until(
        lambda: (r := store.get(job.job_id)) is not None and r.state is JobState.SLEEPING,
        what="the record to say sleeping",
    )
    record = store.get(job.job_id)
    assert record is not None
    assert record.wake_at is not None and record.wake_at > time.time() + 3500
    assert record.progress == 10 and record.message == "napping"

    assert await adapter.cancel(job.job_id) is True
    await wait_for_status(handle(client, job.job_id), WorkflowExecutionStatus.CANCELED)

    status = await adapter.describe(job.job_id)
    assert status is not None and status["state"] == "cancelled"
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.CANCELLED
    assert effects() == {"before": 1}
