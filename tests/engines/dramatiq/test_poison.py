from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import dramatiq
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter
from jobrelay.queue import JobRecord, JobState, JobStore


def _record(name: str, payload: dict[str, Any]) -> JobRecord:
    return JobRecord(
        job_id=uuid.uuid4().hex, name=name, queue="default", payload=json.dumps(payload)
    )


def test_an_unknown_job_is_dead_lettered_with_the_reason(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    wait_for: Callable[..., Any],
    store: JobStore,
    until: Callable[..., None],
) -> None:
    workers(adapter, ["default"])
    record = _record("dtest.no_such_job", {})
    store.create(record)
    adapter.actor("default").send(record.job_id, record.name, {})

    dead = wait_for(record.job_id, JobState.DEAD)

    assert "unknown job 'dtest.no_such_job'" in (dead.error or "")
    # The record is written dead before the consumer thread nacks the message.
    until(lambda: adapter.dead_letters("default"), what="the dead letter")
    [letter] = adapter.dead_letters("default")
    assert letter.args == [record.job_id, "dtest.no_such_job", {}]
    assert letter.reason == dead.error


def test_an_invalid_payload_is_dead_lettered_naming_the_field(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
    store: JobStore,
    until: Callable[..., None],
) -> None:
    workers(adapter, ["default"])
    record = _record("dtest.flaky", {"fail_times": "many"})
    store.create(record)
    adapter.enqueue(
        EngineJob(
            job_id=record.job_id, name=record.name, queue="default", payload={"fail_times": "many"}
        )
    )

    dead = wait_for(record.job_id, JobState.DEAD)

    assert "fail_times: Input should be a valid integer" in (dead.error or "")
    # The record is written dead before the consumer thread nacks the message.
    until(lambda: adapter.dead_letters("default"), what="the dead letter")
    assert [d.reason for d in adapter.dead_letters("default")] == [dead.error]
    assert counts(record.job_id) == {}


def test_malformed_and_undecodable_messages_do_not_stop_the_worker(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    until: Callable[..., None],
) -> None:
    workers(adapter, ["default"], threads=1)
    adapter.actor("default").send("only-one-arg")
    adapter.broker.do_enqueue("default", str(uuid.uuid4()), b"\x00not json{")
    adapter.actor("default").send(uuid.uuid4().hex, "dtest.quick", {})  # no record

    job_id = submit("dtest.three_steps")
    wait_for(job_id, JobState.SUCCEEDED)

    # Nacks go through the consumer thread, after the next message may have run.
    until(lambda: len(adapter.dead_letters("default")) == 3, what="3 dead letters")
    reasons = sorted(d.reason for d in adapter.dead_letters("default"))
    assert len(reasons) == 3
    assert reasons[0].startswith("expected args (job_id, name, payload), got 1 args")
    assert reasons[1].startswith("no record for job ")
    assert reasons[2].startswith("undecodable message:")
    assert adapter.broker.do_qsize("default") == 0  # nothing stranded unacked


def test_a_job_owned_by_temporal_is_dropped(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    counts: Callable[[str], dict[str, int]],
    store: JobStore,
) -> None:
    job_id = uuid.uuid4().hex
    store.create(_record("dtest.quick", {}).model_copy(update={"job_id": job_id}))
    assert store.claim(job_id, "temporal") == "temporal"
    adapter.enqueue(EngineJob(job_id=job_id, name="dtest.quick", queue="scheduled", payload={}))
    workers(adapter, ["scheduled"])

    adapter.broker.join("scheduled", timeout=10_000)

    assert counts(job_id) == {}
    record = store.get(job_id)
    assert record is not None and record.state is JobState.QUEUED and record.attempts == 0
    assert adapter.dead_letters("scheduled") == []


def test_a_duplicate_delivery_of_a_finished_job_is_dropped(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.three_steps")
    first = wait_for(job_id, JobState.SUCCEEDED)

    adapter.enqueue(EngineJob(job_id=job_id, name="dtest.three_steps", queue="default", payload={}))
    adapter.broker.join("default", timeout=10_000)

    assert counts(job_id) == {"one": 1, "two": 1, "three": 1}
    assert wait_for(job_id, JobState.SUCCEEDED) == first
