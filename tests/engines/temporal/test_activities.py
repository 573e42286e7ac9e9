"""The step activity run by the SDK's activity environment, against a real Redis."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

from jobrelay.engines.temporal.models import StepInput, StepOutput
from jobrelay.engines.temporal.worker import JobActivities
from jobrelay.job_engine import step_ref
from jobrelay.queue import JobRecord, JobStore
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
