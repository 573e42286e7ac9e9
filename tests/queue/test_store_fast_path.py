"""The one-round-trip calls of the Dramatiq worker: claim, start, succeed and ack."""

from __future__ import annotations

import time

from jobrelay.queue import JobRecord, JobState, JobStore
from store_peek import overdue


def _record(job_id: str) -> JobRecord:
    return JobRecord(job_id=job_id, name="demo.job", queue="default", payload='{"a": 1}')


def test_claim_record_claims_and_reads_at_once(store: JobStore) -> None:
    store.create(_record("c1"), pickup_deadline=time.time() + 5)
    record, owner = store.claim_record("c1", "dramatiq")
    assert owner == "dramatiq"
    assert record is not None and record.engine == "dramatiq" and record.payload == '{"a": 1}'
    assert overdue(store, now=time.time() + 10) == [], "claimed jobs leave the pending set"
    # A later claimer learns the owner and still gets the record.
    record, owner = store.claim_record("c1", "temporal")
    assert owner == "dramatiq" and record is not None and record.job_id == "c1"


def test_claim_record_does_not_claim_a_missing_job(store: JobStore) -> None:
    assert store.claim_record("ghost", "dramatiq") == (None, None)
    assert store.owner("ghost") is None


def test_claim_and_start_claims_marks_running_and_returns_the_memo(store: JobStore) -> None:
    store.create(_record("b1"), pickup_deadline=time.time() + 5)
    store.save_step("b1", "load", {"x": 1})
    state, owner, memo = store.claim_and_start("b1", "dramatiq", attempt=1)
    assert (state, owner, memo) == (JobState.QUEUED, "dramatiq", {"load": '{"x":1}'})
    first = store.get("b1")
    assert first is not None
    assert (first.state, first.attempts, first.engine) == (JobState.RUNNING, 1, "dramatiq")
    assert first.started_at is not None
    assert overdue(store, now=time.time() + 10) == [], "claimed jobs leave the pending set"

    assert store.claim_and_start("b1", "dramatiq", attempt=2).state is JobState.RUNNING
    second = store.get("b1")
    assert second is not None and second.attempts == 2
    assert second.started_at == first.started_at, "started_at is the first attempt's"


def test_claim_and_start_starts_nothing_it_must_not(store: JobStore) -> None:
    assert store.claim_and_start("ghost", "dramatiq", attempt=1) == (None, None, None)
    assert store.owner("ghost") is None

    store.create(_record("f1"))
    store.finish("f1", JobState.SUCCEEDED, result=1)
    assert store.claim_and_start("f1", "dramatiq", attempt=2) == (
        JobState.SUCCEEDED,
        "dramatiq",
        None,
    )
    done = store.get("f1")
    assert done is not None and done.state is JobState.SUCCEEDED and done.attempts == 0

    store.create(_record("t1"))
    assert store.claim("t1", "temporal") == "temporal"
    assert store.claim_and_start("t1", "dramatiq", attempt=1) == (JobState.QUEUED, "temporal", None)
    other = store.get("t1")
    assert other is not None and other.state is JobState.QUEUED and other.engine == "temporal"

    store.create(_record("x1"))
    store.request_cancel("x1")
    assert store.claim_and_start("x1", "dramatiq", attempt=1) == (JobState.QUEUED, "dramatiq", None)
    cancelled = store.get("x1")
    assert cancelled is not None and cancelled.state is JobState.QUEUED


def test_claim_and_start_many_answers_each_job_in_order(store: JobStore) -> None:
    for job_id in ("m1", "m2"):
        store.create(_record(job_id))
    store.claim("m2", "temporal")
    replies = store.claim_and_start_many("dramatiq", [("m1", 1), ("ghost", 1), ("m2", 3)])
    assert replies == [
        (JobState.QUEUED, "dramatiq", {}),
        (None, None, None),
        (JobState.QUEUED, "temporal", None),
    ]
