from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import dramatiq
from jobrelay.engines.dramatiq import DramatiqAdapter
from jobrelay.queue import JobState


def test_a_step_that_fails_twice_is_retried_from_where_it_failed(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.flaky", {"fail_times": 2})

    record = wait_for(job_id, JobState.SUCCEEDED)

    assert record.attempts == 3
    assert record.result == "3"
    assert counts(job_id) == {"one": 1, "flaky-calls": 3, "three": 1}
    assert record.error == "RuntimeError: flaky failure 2"  # the last failure stays visible
    assert adapter.dead_letters("default") == []


def test_exhausted_retries_dead_letter_the_job(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
    redis_conn: Any,
    until: Callable[..., None],
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.flaky", {"fail_times": 100})

    record = wait_for(job_id, JobState.DEAD)

    assert record.attempts == 4  # retries=3
    assert record.error == "gave up after 4 attempts: RuntimeError: flaky failure 4"
    assert counts(job_id) == {"one": 1, "flaky-calls": 4, "on-failure": 1}
    assert redis_conn.get(testjobs.key(job_id, "on-failure-error")).decode() == record.error
    # The record is written dead before the consumer thread nacks the message.
    until(lambda: adapter.dead_letters("default"), what="the dead letter")
    [dead] = adapter.dead_letters("default")
    assert dead.args[0] == job_id and dead.reason == record.error


def test_permanent_error_is_not_retried(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.permanent")

    record = wait_for(job_id, JobState.FAILED)

    assert record.attempts == 1
    assert record.error == "PermanentError: the remote side said no"
    assert counts(job_id) == {"one": 1, "refuse-calls": 1, "on-failure": 1}
    assert adapter.dead_letters("default") == []
