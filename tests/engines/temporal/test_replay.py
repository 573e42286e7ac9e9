"""The workflow replays deterministically: from saved histories, and with no workflow cache."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

import pytest
from jobrelay.engines.temporal import TemporalAdapter
from jobrelay.engines.temporal.worker import JobWorkflow, sandbox_restrictions
from jobrelay.queue import JobStore, QueueSettings
from temporal_adapter_support import StartWorker, engine_job, handle
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkipper
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner


async def test_finished_histories_replay_without_nondeterminism(
    client: Client,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
) -> None:
    adapter = TemporalAdapter(TimeSkipper(client).client, queue_settings)
    await start_worker(queue_settings, store)
    await start_worker(queue_settings, store, queue="scheduled")
    jobs = [
        engine_job("trt.flaky", probe),
        engine_job("trt.sleeper", {**probe, "key": probe["key"] + ":s"}, queue="scheduled"),
        engine_job("trt.permanent", {**probe, "key": probe["key"] + ":p"}),
    ]
    for job in jobs:
        await adapter.start(job)
    for job in jobs[:2]:
        await handle(client, job.job_id).result()
    with pytest.raises(WorkflowFailureError):
        await handle(client, jobs[2].job_id).result()

    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        replayer = Replayer(
            workflows=[JobWorkflow],
            workflow_runner=SandboxedWorkflowRunner(restrictions=sandbox_restrictions()),
            data_converter=pydantic_data_converter,
            workflow_failure_exception_types=[Exception],
            workflow_task_executor=executor,
        )
        for job in jobs:
            history = await handle(client, job.job_id).fetch_history()
            result = await replayer.replay_workflow(history)
            assert result.replay_failure is None
    finally:
        executor.shutdown()


async def test_a_worker_without_a_workflow_cache_replays_every_task_and_runs_steps_once(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    # No cache: every workflow task rebuilds the workflow (and re-imports the
    # job in a fresh sandbox) from the history so far.
    await start_worker(queue_settings, store, max_cached_workflows=0)
    job = engine_job("trt.flaky", probe)

    await adapter.start(job)
    outcome = await handle(client, job.job_id).result()

    assert outcome.result == {"values": [1, 3, 1], "attempt": 1}
    assert effects() == {"before": 1, "flaky": 3, "after": 1}
