"""The workflow sandbox: what it shares, what it loads afresh, and a job it did not load."""

from __future__ import annotations

import asyncio

import pytest
from jobrelay.engines.temporal import TemporalAdapter
from jobrelay.engines.temporal.worker.sandbox import (
    WORKFLOW_MODULE,
    job_modules,
    register_job_modules,
    shared_framework_modules,
)
from jobrelay.job_engine import BUILTIN_JOBS_PACKAGE, discover_jobs
from jobrelay.queue import JobState, JobStore, QueueSettings
from temporal_adapter_support import StartWorker, engine_job, handle
from temporalio.client import Client, WorkflowFailureError


def _covers(shared: str, name: str) -> bool:
    # How the sandbox reads a passthrough name: the module and all below it.
    return name == shared or name.startswith(shared + ".")


def test_no_job_module_and_not_the_workflow_module_is_shared() -> None:
    register_job_modules(["temporal_adapter_test_jobs"])
    shared = shared_framework_modules()
    fresh = [WORKFLOW_MODULE, *job_modules()]
    assert BUILTIN_JOBS_PACKAGE in job_modules()
    assert "temporal_adapter_test_jobs" in job_modules()
    leaks = [(s, f) for s in shared for f in fresh if _covers(s, f)]
    assert not leaks, f"passed through, so never re-imported in the sandbox: {leaks}"
    # The framework is shared: the engine-independent core and the adapter itself.
    for name in (
        "jobrelay.queue",
        "jobrelay.job_engine.registry",
        "jobrelay.job_engine.runner",
        "jobrelay.engines.temporal.worker.context",
        "jobrelay.engines.temporal.worker.recorder",
        "jobrelay.engines.temporal.worker.sandbox",
    ):
        assert name in shared, name


async def test_a_job_whose_module_the_worker_does_not_load_fails_naming_it(
    client: Client,
    adapter: TemporalAdapter,
    start_worker: StartWorker,
    queue_settings: QueueSettings,
    store: JobStore,
    probe: dict[str, str],
) -> None:
    discover_jobs(["temporal_unloaded_jobs"])  # known to this process, not to its workers
    await start_worker(queue_settings, store)
    job = engine_job("trt.unloaded", probe)

    await adapter.start(job)
    with pytest.raises(WorkflowFailureError) as failure:
        # Bounded: the old worker imported the module at run time instead.
        await asyncio.wait_for(handle(client, job.job_id).result(), 60)

    message = str(failure.value.cause)
    assert "'temporal_unloaded_jobs'" in message and "JOBRELAY_JOB_MODULES" in message
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.FAILED
    assert record.error is not None and "temporal_unloaded_jobs" in record.error
