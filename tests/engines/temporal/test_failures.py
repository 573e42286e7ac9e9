"""Retries, PermanentError, exhausted retries and non-deterministic job code on Temporal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jobrelay.engines.temporal import TemporalAdapter
from jobrelay.queue import JobState, JobStore, QueueSettings
from temporal_adapter_support import StartWorker, engine_job, handle
from temporal_adapter_test_jobs import HOOK_REDIS_ENV
from temporalio.client import Client, WorkflowFailureError


async def test_a_step_that_fails_twice_is_retried_and_earlier_steps_run_once(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.flaky", probe)

    await adapter.start(job)
    outcome = await handle(client, job.job_id).result()

    assert outcome.result == {"values": [1, 3, 1], "attempt": 1}
    assert effects() == {"before": 1, "flaky": 3, "after": 1}
    assert outcome.attempts == 3
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.attempts == 3
    status = await adapter.describe(job.job_id)
    assert status is not None and status["attempts"] == 3


async def test_permanent_error_is_not_retried(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.permanent", probe)  # retries=5

    await adapter.start(job)
    with pytest.raises(WorkflowFailureError):
        await handle(client, job.job_id).result()

    assert effects() == {"refuse": 1}
    status = await adapter.describe(job.job_id)
    assert status is not None
    assert status["state"] == "failed"
    assert "PermanentError: bad input" in status["error"]
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.FAILED
    assert "bad input" in (record.error or "")


async def test_exhausted_retries_end_dead_and_run_the_failure_hook_once(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(HOOK_REDIS_ENV, probe["redis_url"])
    await start_worker(queue_settings, store)
    job = engine_job("trt.exhausted", probe)  # retries=1: two attempts

    await adapter.start(job)
    with pytest.raises(WorkflowFailureError):
        await handle(client, job.job_id).result()

    assert effects() == {"before": 1, "broken": 2}
    status = await adapter.describe(job.job_id)
    assert status is not None
    assert status["state"] == "dead"
    assert "RuntimeError: still broken" in status["error"]
    assert status["attempts"] == 2
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.DEAD
    hook = store.client.hgetall(f"hook:{job.job_id}")
    assert hook[b"runs"] == b"1"
    assert b"still broken" in hook[b"error"]
    store.client.delete(f"hook:{job.job_id}")


@pytest.mark.parametrize(
    ("name", "call"), [("trt.clock", "time.time"), ("trt.wall_clock", "datetime.now")]
)
async def test_reading_the_clock_between_steps_fails_the_workflow(
    name: str,
    call: str,
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job(name, probe)

    await adapter.start(job)
    with pytest.raises(WorkflowFailureError) as failure:
        await handle(client, job.job_id).result()

    assert call in str(failure.value.cause)
    assert effects() == {"before": 1}  # stopped at the clock read, not after
    status = await adapter.describe(job.job_id)
    assert status is not None
    assert status["state"] == "failed"
    assert "RestrictedWorkflowAccessError" in status["error"]
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.FAILED


async def test_an_invalid_payload_fails_the_job_without_running_a_step(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.three_steps", {"key": probe["key"]})  # no redis_url

    await adapter.start(job)
    with pytest.raises(WorkflowFailureError):
        await handle(client, job.job_id).result()

    status = await adapter.describe(job.job_id)
    assert status is not None and status["state"] == "failed"
    assert "InvalidPayload" in status["error"] and "redis_url" in status["error"]
    assert effects() == {}


async def test_a_result_that_is_not_json_fails_at_once(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
    effects: Callable[[], dict[str, int]],
) -> None:
    await start_worker(queue_settings, store)
    job = engine_job("trt.bad_result", probe)  # retries=5

    await adapter.start(job)
    with pytest.raises(WorkflowFailureError):
        await handle(client, job.job_id).result()

    status = await adapter.describe(job.job_id)
    assert status is not None and status["state"] == "failed"
    assert "JobDefinitionError" in status["error"]
    assert effects() == {"odd": 1}
