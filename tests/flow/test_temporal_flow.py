"""Flow control on Temporal, and across both engines at once: a limit of 2 means two
running in all, whichever engine runs each job. Measured from the steps' own times."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from types import ModuleType
from typing import Any

import pytest
from flow_test_support import TESTJOBS, Spans, max_overlap, most_starts_within
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.engines.temporal import TemporalAdapter, connect
from jobrelay.engines.temporal.models import STATUS_QUERY, WorkflowStatus
from jobrelay.engines.temporal.worker import JobWorkflow, make_worker, sandbox_restrictions
from jobrelay.job_engine import get_job
from jobrelay.queue import JobRecord, JobStore, QueueSettings, redis_client
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner


@pytest.fixture
async def client(temporal_server: TemporalDevServer) -> Client:
    return await connect(temporal_server.address)


@pytest.fixture
async def temporal_workers(client: Client) -> AsyncIterator[Callable[..., Any]]:
    """``await start(settings, store)``: a Temporal worker for ``default`` until the test ends."""
    async with AsyncExitStack() as stack:

        async def start(settings: QueueSettings, store: JobStore | None) -> Worker:
            worker = make_worker(client, settings, "default", store=store, job_modules=[TESTJOBS])
            return await stack.enter_async_context(worker)

        yield start


def _job(name: str, payload: dict[str, Any]) -> EngineJob:
    data = get_job(name).dump_payload(payload)
    return EngineJob(
        job_id=f"flow-{uuid.uuid4().hex[:12]}", name=name, queue="default", payload=data
    )


@pytest.mark.timeout(180)
async def test_thirty_jobs_of_one_key_never_run_more_than_two_at_once_on_temporal(
    flowjobs: ModuleType,
    client: Client,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_workers: Callable[..., Any],
    spans: Spans,
    run_id: str,
) -> None:
    adapter = TemporalAdapter(client, queue_settings)
    await temporal_workers(queue_settings, store)
    jobs = [
        _job("flowt.limited", {"run": run_id, "key": "cal-1", "hold_s": 0.15}) for _ in range(30)
    ]
    await asyncio.gather(*(adapter.start(job) for job in jobs))
    found = await spans.until(30)
    assert sorted(s["job_id"] for s in found) == sorted(job.job_id for job in jobs)
    assert {s["engine"] for s in found} == {"temporal"}
    assert max_overlap(found) == 2
    # Every run ended, and gave its slot back.
    for job in jobs:
        await client.get_workflow_handle(job.job_id).result()
    assert store.client.zcard(store.keys.flow_slots("flowt.limited", "cal-1")) == 0


@pytest.mark.timeout(180)
async def test_one_limit_holds_across_both_engines_at_once(
    flowjobs: ModuleType,
    client: Client,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_workers: Callable[..., Any],
    spans: Spans,
    run_id: str,
) -> None:
    temporal = TemporalAdapter(client, queue_settings)
    dramatiq = DramatiqAdapter(make_broker(queue_settings), store, queue_settings)
    await temporal_workers(queue_settings, store)
    worker = start_worker(dramatiq, ["default"], threads=4)
    try:
        limited = [
            _job("flowt.limited", {"run": run_id, "key": "k", "hold_s": 0.15, "label": "limit"})
            for _ in range(30)
        ]
        paced = [
            _job("flowt.paced", {"run": run_id, "key": "k", "label": "rate"}) for _ in range(30)
        ]
        starts = []
        for i, job in enumerate(limited + paced):
            if i % 2:
                starts.append(temporal.start(job))
            else:
                record = JobRecord(
                    job_id=job.job_id,
                    name=job.name,
                    queue="default",
                    payload=json.dumps(job.payload),
                )
                assert store.create(record)
                await asyncio.to_thread(dramatiq.enqueue, job)
        await asyncio.gather(*starts)
        found = await spans.until(60)
    finally:
        await asyncio.to_thread(worker.stop, 10_000)
    by_label = {label: [s for s in found if s["label"] == label] for label in ("limit", "rate")}
    for label, group in by_label.items():
        assert {s["engine"] for s in group} == {"dramatiq", "temporal"}, label
    assert max_overlap(by_label["limit"]) == 2
    assert most_starts_within([s["start"] for s in by_label["rate"]], 1.0) <= 10


@pytest.mark.timeout(120)
async def test_with_redis_down_a_limited_job_waits_and_runs_once_it_is_back(
    flowjobs: ModuleType,
    client: Client,
    own_redis: RedisServer,
    prefix: str,
    temporal_workers: Callable[..., Any],
    spans: Spans,
    run_id: str,
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    store = JobStore.from_settings(redis_client(settings), settings)
    await temporal_workers(settings, store)
    own_redis.stop()
    job = _job("flowt.single", {"run": run_id, "key": "k"})
    await TemporalAdapter(client, settings).start(job)
    handle = client.get_workflow_handle(job.job_id)

    async def waiting_for_redis() -> bool:
        status: WorkflowStatus = await handle.query(STATUS_QUERY, result_type=WorkflowStatus)
        return status.message == "waiting for Redis to answer"

    deadline = time.monotonic() + 30
    while not await waiting_for_redis():
        assert time.monotonic() < deadline, "the run never said it waits for Redis"
        await asyncio.sleep(0.1)
    # Without Redis no slot can be taken, so the step does not run (never
    # over the limit), however long the outage.
    await asyncio.sleep(2)
    assert spans() == [] and await waiting_for_redis()
    own_redis.start()
    await asyncio.wait_for(handle.result(), 60)
    (span,) = spans()
    assert span["job_id"] == job.job_id and span["engine"] == "temporal"


@pytest.mark.timeout(120)
async def test_runs_that_waited_for_slots_turns_and_slept_replay_deterministically(
    flowjobs: ModuleType,
    client: Client,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_workers: Callable[..., Any],
    spans: Spans,
    run_id: str,
) -> None:
    adapter = TemporalAdapter(client, queue_settings)
    await temporal_workers(queue_settings, store)
    jobs = [_job("flowt.napper", {"run": run_id, "key": "k", "hold_s": 0.2}) for _ in range(3)]
    await asyncio.gather(*(adapter.start(job) for job in jobs))
    for job in jobs:
        await asyncio.wait_for(client.get_workflow_handle(job.job_id).result(), 60)
    found = spans()
    assert len(found) == 6 and max_overlap(found) == 1
    waited = 0
    for job in jobs:
        history = await client.get_workflow_handle(job.job_id).fetch_history()
        waited += sum(1 for e in history.events if e.HasField("timer_started_event_attributes"))
        replayer = Replayer(
            workflows=[JobWorkflow],
            workflow_runner=SandboxedWorkflowRunner(restrictions=sandbox_restrictions()),
            data_converter=pydantic_data_converter,
            workflow_failure_exception_types=[Exception],
        )
        result = await asyncio.wait_for(
            replayer.replay_workflow(history, raise_on_replay_failure=False), 60
        )
        assert result.replay_failure is None
    assert waited > len(jobs)  # more timers than the naps alone: some waited for a slot
