"""The workflow replays deterministically: from saved histories, and with no workflow cache."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from pathlib import Path

import pytest
from jobrelay.engines.temporal import TemporalAdapter
from jobrelay.engines.temporal.worker import JobWorkflow, sandbox_restrictions
from jobrelay.queue import JobStore, QueueSettings
from temporal_adapter_support import StartWorker, engine_job, handle
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkipper
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

HISTORIES = Path(__file__).parent / "support" / "histories"


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

    for job in jobs:
        history = await handle(client, job.job_id).fetch_history()
        assert await _replay_failure(history) is None


async def _replay_failure(history: WorkflowHistory) -> Exception | None:
    """What replaying ``history`` with today's workflow code fails with, if anything."""
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        replayer = Replayer(
            workflows=[JobWorkflow],
            workflow_runner=SandboxedWorkflowRunner(restrictions=sandbox_restrictions()),
            data_converter=pydantic_data_converter,
            workflow_failure_exception_types=[Exception],
            workflow_task_executor=executor,
        )
        # A hang detector: a history the code no longer matches can leave the
        # replay waiting for a local activity it will never schedule.
        result = await asyncio.wait_for(
            replayer.replay_workflow(history, raise_on_replay_failure=False), 60
        )
        return result.replay_failure
    finally:
        executor.shutdown()


async def test_a_history_of_a_worker_that_claimed_in_a_local_activity_still_replays(
    start_worker: StartWorker, queue_settings: QueueSettings, store: JobStore
) -> None:
    # Written by the worker before the claim rode on the first step (3d76b5b):
    # a workflow in flight across that upgrade must go on with the old path.
    await start_worker(queue_settings, store)  # registers the test jobs for the sandbox
    path = HISTORIES / "three_steps_claim_activity.json"
    history = WorkflowHistory.from_json("claim-activity-history", path.read_text())
    markers = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert len(markers) == 2, "the fixture should hold the claim and the finish local activities"

    assert await _replay_failure(history) is None


async def test_a_new_run_claims_with_its_first_step_not_in_a_round_of_its_own(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.three_steps", probe)

    await adapter.start(job)
    await handle(client, job.job_id).result()

    history = await handle(client, job.job_id).fetch_history()
    local = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert len(local) == 1, "only the outcome is a local activity; the claim rides on step one"
    assert store.owner(job.job_id) == "temporal"
    assert await _replay_failure(history) is None


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
