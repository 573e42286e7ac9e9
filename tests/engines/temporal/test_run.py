"""A job runs end to end on a real Temporal dev server, with its record in real Redis."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jobrelay.engines.temporal import TemporalAdapter
from jobrelay.queue import JobState, JobStore, QueueSettings, loads
from temporal_adapter_support import StartWorker, engine_job, handle
from temporalio.client import Client, WorkflowFailureError


async def test_three_steps_each_run_once(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.three_steps", probe)

    await adapter.start(job)
    outcome = await handle(client, job.job_id).result()

    assert outcome.result == {"values": [1, 1, 1], "attempt": 1}
    assert effects() == {"one": 1, "two": 1, "three": 1}
    record = store.get(job.job_id)
    assert record is not None
    assert record.state is JobState.SUCCEEDED
    assert record.engine == "temporal"
    assert loads(record.result or "null") == {"values": [1, 1, 1], "attempt": 1}
    assert store.owner(job.job_id) == "temporal"
    status = await adapter.describe(job.job_id)
    assert status is not None
    assert status["state"] == "succeeded"
    assert status["result"] == {"values": [1, 1, 1], "attempt": 1}
    assert status["name"] == "trt.three_steps"


async def test_runs_without_redis_when_the_worker_has_no_store(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, None)
    job = engine_job("trt.three_steps", probe)

    await adapter.start(job)
    outcome = await handle(client, job.job_id).result()

    assert outcome.result == {"values": [1, 1, 1], "attempt": 1}
    assert effects() == {"one": 1, "two": 1, "three": 1}
    assert store.get(job.job_id) is None
    assert store.owner(job.job_id) is None


async def test_starting_a_job_again_is_a_no_op(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    job = engine_job("trt.three_steps", probe)
    await adapter.start(job)
    await adapter.start(job)  # still running (no worker yet): USE_EXISTING
    described = await adapter.describe(job.job_id)
    assert described is not None and described["state"] == "queued"

    await start_worker(queue_settings, store)
    first = await handle(client, job.job_id).result()
    await adapter.start(job)  # finished: REJECT_DUPLICATE, swallowed

    assert first.result == {"values": [1, 1, 1], "attempt": 1}
    assert effects() == {"one": 1, "two": 1, "three": 1}
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{job.job_id}'")]
    assert len(runs) == 1


async def test_unknown_workflow_is_none_and_cannot_be_cancelled(adapter: TemporalAdapter) -> None:
    assert await adapter.describe("no-such-job") is None
    assert await adapter.cancel("no-such-job") is False


async def test_an_unknown_job_name_fails_clearly(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.no_such_job", probe)

    await adapter.start(job)
    with pytest.raises(WorkflowFailureError):
        await handle(client, job.job_id).result()

    status = await adapter.describe(job.job_id)
    assert status is not None
    assert status["state"] == "failed"
    assert "unknown job 'trt.no_such_job'" in status["error"]
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.FAILED
    assert "trt.no_such_job" in (record.error or "")
