"""The dispatcher's atomic steps, called directly against a real Redis."""

from __future__ import annotations

import time

import redis
from jobrelay.dispatcher.ledger import Ledger
from jobrelay.queue import AttemptEntry, JobHistory, JobRecord, JobState, JobStore


def test_a_retried_job_keeps_its_record_and_logs_until_it_finishes_again(
    redis_conn: redis.Redis, store: JobStore, prefix: str
) -> None:
    job_id = f"{prefix}readmit"
    keys = store.keys
    history = JobHistory.of(store)
    assert store.create(JobRecord(job_id=job_id, name="dsp.flaky", queue="default"))
    store.save_step(job_id, "first", 1)
    started = time.time()
    history.fail_step(
        job_id,
        "second",
        attempts=1,
        started_at=started,
        error="boom",
        attempt=AttemptEntry(attempt=1, engine="dramatiq", outcome="failed", error="boom"),
    )
    assert store.finish(job_id, JobState.FAILED, error="boom")
    kept = [keys.job(job_id), keys.steps(job_id), keys.attempts(job_id), keys.step_info(job_id)]
    # Finished: every key is on the retention clock.
    assert all(redis_conn.ttl(key) > 0 for key in kept)

    call = Ledger(keys).readmit(
        job_id, fresh=False, token="t1", engine="dramatiq", reason="ok", deadline=None
    )
    assert call.run(redis_conn) == 1
    assert [redis_conn.ttl(key) for key in kept] == [-1, -1, -1, -1]
    record = store.get(job_id)
    assert record is not None and record.state is JobState.QUEUED
