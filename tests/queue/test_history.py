"""The attempt and step logs of a job (jobrelay.queue.history) on a real Redis."""

from __future__ import annotations

import time

import pytest
from jobrelay.queue import (
    AttemptEntry,
    JobHistory,
    JobRecord,
    JobState,
    JobStore,
    StepState,
    traceback_tail,
)


@pytest.fixture
def history(store: JobStore) -> JobHistory:
    return JobHistory.of(store)


def _record(store: JobStore, job_id: str = "h1") -> str:
    assert store.create(JobRecord(job_id=job_id, name="demo.job", queue="default"))
    return job_id


def _entry(attempt: int, outcome: str, **fields: object) -> AttemptEntry:
    now = time.time()
    return AttemptEntry(
        attempt=attempt,
        engine="dramatiq",
        outcome=outcome,
        started_at=now,
        ended_at=now,
        **fields,
    )


def test_taking_a_step_marks_it_running_and_counts_its_runs(
    store: JobStore, history: JobHistory
) -> None:
    job_id = _record(store)
    first = history.take_step(job_id, "fetch", "delivery-1", 30)
    assert (first.leased, first.stored, first.attempt) == (True, None, 1)
    entry = history.read(job_id).steps["fetch"]
    assert (entry.state, entry.attempts, entry.ended_at) == (StepState.RUNNING, 1, None)
    assert entry.started_at is not None

    # The first delivery's worker died mid-step; its lease ran out; another runs it.
    store.drop_step_lease(job_id, "fetch", "delivery-1")
    second = history.take_step(job_id, "fetch", "delivery-2", 30)
    assert (second.leased, second.attempt) == (True, 2)
    history.save_step(job_id, "fetch", {"n": 1}, attempts=2, started_at=time.time() - 0.25)

    view = history.read(job_id)
    done = view.steps["fetch"]
    assert (done.state, done.attempts) == (StepState.SUCCEEDED, 2)
    assert done.duration_ms is not None and done.duration_ms >= 250
    assert view.results == {"fetch": '{"n":1}'}
    # A finished step is found, not marked again.
    again = history.take_step(job_id, "fetch", "delivery-3", 30)
    assert (again.stored, again.leased, again.attempt) == ('{"n":1}', False, 0)
    assert history.read(job_id).steps["fetch"].attempts == 2


def test_a_step_held_by_another_delivery_or_stopped_by_a_cancel_is_not_marked(
    store: JobStore, history: JobHistory
) -> None:
    job_id = _record(store)
    assert history.take_step(job_id, "busy", "delivery-1", 30).attempt == 1
    busy = history.take_step(job_id, "busy", "delivery-2", 30)
    assert (busy.leased, busy.attempt) == (False, 0)
    assert history.read(job_id).steps["busy"].attempts == 1

    store.request_cancel(job_id)
    stopped = history.take_step(job_id, "next", "delivery-1", 30)
    assert stopped.cancel_requested and stopped.attempt == 0
    assert "next" not in history.read(job_id).steps
    # A hook runs whatever a cancel says, and is marked.
    hook = history.take_step(job_id, "jobrelay.on_failure", "delivery-1", 30, despite_cancel=True)
    assert hook.cancel_requested and hook.attempt == 1


def test_a_failed_step_drops_its_lease_and_says_why(store: JobStore, history: JobHistory) -> None:
    job_id = _record(store)
    history.take_step(job_id, "flaky", "delivery-1", 30)
    history.fail_leased_step(
        job_id,
        "flaky",
        "delivery-1",
        attempts=1,
        started_at=time.time(),
        error="RuntimeError: no",
    )
    entry = history.read(job_id).steps["flaky"]
    assert (entry.state, entry.attempts, entry.error) == (StepState.FAILED, 1, "RuntimeError: no")
    # The lease is free: the next delivery runs the step at once, as its second run.
    assert history.take_step(job_id, "flaky", "delivery-2", 30).attempt == 2

    # A failure reported after another delivery saved the step leaves its success alone.
    history.save_step(job_id, "flaky", 7, attempts=2, started_at=time.time())
    history.fail_leased_step(
        job_id, "flaky", "delivery-1", attempts=1, started_at=time.time(), error="late"
    )
    assert history.read(job_id).steps["flaky"].state is StepState.SUCCEEDED


def test_a_temporal_step_is_marked_with_its_activity_attempt(
    store: JobStore, history: JobHistory
) -> None:
    job_id = _record(store)
    assert history.step_started(job_id, "send", attempt=3) is False
    entry = history.read(job_id).steps["send"]
    assert (entry.state, entry.attempts) == (StepState.RUNNING, 3)
    history.fail_step(
        job_id,
        "send",
        attempts=3,
        started_at=time.time(),
        error="OSError: down",
        attempt=_entry(3, "retrying", step="send", error="OSError: down"),
    )
    view = history.read(job_id)
    assert view.steps["send"].state is StepState.FAILED
    assert [(a.attempt, a.outcome, a.step) for a in view.attempts] == [(3, "retrying", "send")]

    store.save_step(job_id, "done", 1)
    store.request_cancel(job_id)
    # The flag comes back; a step with a result, or one a cancel stops, is not marked.
    assert history.step_started(job_id, "done", attempt=2) is True
    assert history.step_started(job_id, "other", attempt=1) is True
    assert set(history.read(job_id).steps) == {"send"}


def test_the_attempt_log_is_capped_and_expires_once_the_job_finished(
    store: JobStore, history: JobHistory
) -> None:
    job_id = _record(store)
    capped = JobHistory(store.client, store.keys, retention_s=300, kept=3)
    history.take_step(job_id, "fetch", "delivery-1", 30)
    for attempt in range(1, 6):
        capped.log_attempt(job_id, _entry(attempt, "retrying", error=f"attempt {attempt}"))
    assert [a.attempt for a in capped.read(job_id).attempts] == [3, 4, 5]
    # An unfinished job's logs live as long as its record does (no TTL).
    assert store.client.ttl(store.keys.attempts(job_id)) == -1
    assert store.client.ttl(store.keys.step_info(job_id)) == -1

    capped.log_attempt(job_id, _entry(6, JobState.SUCCEEDED.value))
    for key in (store.keys.attempts(job_id), store.keys.step_info(job_id)):
        assert 0 < store.client.ttl(key) <= 300


def test_attempts_logged_soon_are_written_by_the_background_thread(
    store: JobStore, history: JobHistory
) -> None:
    job_id = _record(store)
    for attempt in (1, 2):
        history.log_attempt_soon(job_id, _entry(attempt, "retrying", worker="host:1"))
    assert JobHistory.flush_soon(10)
    view = history.read(job_id)
    assert [(a.attempt, a.worker) for a in view.attempts] == [(1, "host:1"), (2, "host:1")]
    assert view.record is not None and view.record.job_id == job_id


def test_reading_skips_entries_it_cannot_parse(store: JobStore, history: JobHistory) -> None:
    job_id = _record(store)
    store.client.rpush(store.keys.attempts(job_id), "not json", '{"attempt": "x"}')
    store.client.hset(store.keys.step_info(job_id), "odd", '{"state": "unknown"}')
    history.log_attempt(job_id, _entry(1, "failed"))
    view = history.read(job_id)
    assert [a.outcome for a in view.attempts] == ["failed"]
    assert view.steps == {}
    assert history.read("no-such-job") == (None, [], {}, {})


def test_removing_a_finished_job_removes_its_logs(store: JobStore, history: JobHistory) -> None:
    job_id = _record(store)
    history.take_step(job_id, "fetch", "delivery-1", 30)
    history.log_attempt(job_id, _entry(1, "succeeded"))
    assert store.finish(job_id, JobState.SUCCEEDED, result=1)
    assert store.remove(job_id) == (True, JobState.SUCCEEDED)
    assert store.client.exists(store.keys.attempts(job_id), store.keys.step_info(job_id)) == 0


def _bottom() -> None:
    raise ValueError("at the bottom")


def _third() -> None:
    _bottom()


def _second() -> None:
    _third()


def _first() -> None:
    _second()


def test_traceback_tail_keeps_the_last_lines_with_the_error() -> None:
    try:
        _first()
    except ValueError as exc:
        caught = exc
    full = traceback_tail(caught, lines=1000).splitlines()
    tail = traceback_tail(caught).splitlines()
    assert len(full) > 6
    assert tail == full[-15:]
    short = traceback_tail(caught, lines=3).splitlines()
    assert short == full[-3:]
    assert short[-1] == "ValueError: at the bottom"
    assert "_bottom" in short[0]
