"""The one-round-trip forms the Dramatiq worker uses: claim_record and begin_attempt."""

from __future__ import annotations

import time

from jobrelay.queue import JobRecord, JobState, JobStore


def _record(job_id: str) -> JobRecord:
    return JobRecord(job_id=job_id, name="demo.job", queue="default", payload='{"a": 1}')


def test_claim_record_claims_and_reads_at_once(store: JobStore) -> None:
    store.create(_record("c1"), pickup_deadline=time.time() + 5)
    record, owner = store.claim_record("c1", "dramatiq")
    assert owner == "dramatiq"
    assert record is not None and record.engine == "dramatiq" and record.payload == '{"a": 1}'
    assert store.overdue(now=time.time() + 10) == [], "claimed jobs leave the pending set"
    # A later claimer learns the owner and still gets the record.
    record, owner = store.claim_record("c1", "temporal")
    assert owner == "dramatiq" and record is not None and record.job_id == "c1"


def test_claim_record_does_not_claim_a_missing_job(store: JobStore) -> None:
    assert store.claim_record("ghost", "dramatiq") == (None, None)
    assert store.owner("ghost") is None


def test_begin_attempt_marks_running_and_returns_the_memo(store: JobStore) -> None:
    store.create(_record("b1"))
    store.save_step("b1", "load", {"x": 1})
    memo = store.begin_attempt("b1", attempt=1, engine="dramatiq")
    assert memo == {"load": '{"x":1}'}
    first = store.get("b1")
    assert first is not None
    assert (first.state, first.attempts, first.engine) == (JobState.RUNNING, 1, "dramatiq")
    assert first.started_at is not None

    store.begin_attempt("b1", attempt=2, engine="dramatiq")
    second = store.get("b1")
    assert second is not None and second.attempts == 2
    assert second.started_at == first.started_at, "started_at is the first attempt's"


def test_begin_attempt_leaves_finished_and_missing_jobs_alone(store: JobStore) -> None:
    assert store.begin_attempt("ghost", attempt=1, engine="dramatiq") is None
    store.create(_record("f1"))
    store.finish("f1", JobState.SUCCEEDED, result=1)
    assert store.begin_attempt("f1", attempt=2, engine="dramatiq") is None
    done = store.get("f1")
    assert done is not None and done.state is JobState.SUCCEEDED and done.attempts == 0
