from __future__ import annotations

import threading
import time

import pytest
import redis
from jobrelay.queue import JobRecord, JobState, JobStore, loads, new_record_fields
from pydantic import BaseModel
from store_peek import load_steps, mark_running, overdue


def _record(job_id: str = "j1") -> JobRecord:
    return JobRecord(job_id=job_id, name="demo.job", queue="default", payload='{"a": 1}')


def test_create_if_absent(store: JobStore) -> None:
    assert store.create(_record(), pickup_deadline=time.time() + 5) is True
    second = _record().model_copy(update={"name": "other"})
    assert store.create(second) is False
    got = store.get("j1")
    assert got is not None
    assert got.name == "demo.job"
    assert got.state is JobState.QUEUED
    assert got.payload == '{"a": 1}'


def test_owner_claim_race_has_one_winner(store: JobStore) -> None:
    store.create(_record("race"), pickup_deadline=time.time() + 5)
    barrier = threading.Barrier(32)
    results: list[tuple[str, str]] = []
    lock = threading.Lock()

    def contend(i: int) -> None:
        engine = "dramatiq" if i % 2 else "temporal"
        barrier.wait()
        owner = store.claim("race", engine)
        with lock:
            results.append((engine, owner))

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    owners = {owner for _, owner in results}
    assert len(owners) == 1
    winner = owners.pop()
    assert sum(1 for engine, owner in results if engine == owner) == 16  # every same-engine caller
    assert store.owner("race") == winner
    assert overdue(store, now=time.time() + 10) == []  # a claim leaves the pending set
    record = store.get("race")
    assert record is not None and record.engine == winner


class Booking(BaseModel):
    id: int
    email: str
    tags: list[str]


def test_step_memo_round_trips_pydantic_models_as_json(
    store: JobStore, redis_conn: redis.Redis
) -> None:
    booking = Booking(id=7, email="a@b.c", tags=["x"])
    store.save_step("j2", "load", booking)
    store.save_step("j2", "count", 3)
    raw = redis_conn.hget(store.keys.steps("j2"), "load")
    assert raw == b'{"id":7,"email":"a@b.c","tags":["x"]}'
    steps = load_steps(store, "j2")
    assert loads(steps["load"], Booking) == booking
    assert loads(steps["count"]) == 3


def test_finish_once_and_start_retention(store: JobStore, redis_conn: redis.Redis) -> None:
    short = JobStore(store.client, store.keys, retention_s=50)
    short.create(_record("f"), pickup_deadline=time.time() + 5)
    short.claim("f", "dramatiq")
    short.save_step("f", "s", 1)
    assert mark_running(short, "f", attempt=1, engine="dramatiq")
    assert short.finish("f", JobState.SUCCEEDED, result={"ok": True})
    assert not short.finish("f", JobState.FAILED, error="late duplicate")
    assert not short.set_progress("f", 10, "late")
    record = short.get("f")
    assert record is not None
    assert record.state is JobState.SUCCEEDED
    assert loads(record.result or "") == {"ok": True}
    assert record.error is None and record.progress == 100
    for key in (store.keys.job("f"), store.keys.owner("f"), store.keys.steps("f")):
        assert 0 < redis_conn.ttl(key) <= 50


def test_progress_cancel_and_running_fields(store: JobStore) -> None:
    store.create(_record("p"))
    assert mark_running(store, "p", attempt=2, engine="temporal")
    assert store.set_progress("p", 140, "almost")
    assert not store.cancel_requested("p")
    assert store.request_cancel("p")
    record = store.get("p")
    assert record is not None
    assert (record.state, record.attempts, record.engine) == (JobState.RUNNING, 2, "temporal")
    assert (record.progress, record.message) == (100, "almost")
    assert record.started_at is not None
    assert store.cancel_requested("p")
    assert store.update("missing", progress=1) is False


def test_wakeups_are_leased_once_and_come_back_unless_acked(store: JobStore) -> None:
    now = time.time()
    store.schedule_wakeup("m1", now - 1)
    store.schedule_wakeup("m2", now - 1)
    store.schedule_wakeup("later", now + 100)
    assert sorted(store.lease_due_wakeups(now, lease_s=10)) == ["m1", "m2"]
    assert store.lease_due_wakeups(now) == []  # leased: no second taker
    store.ack_wakeup("m1")
    # m2's taker "died" without acking: it is due again once the lease ends.
    assert store.lease_due_wakeups(now + 11) == ["m2"]


def test_finish_rejects_unfinished_state(store: JobStore) -> None:
    with pytest.raises(ValueError, match="not a finished state"):
        store.finish("x", JobState.RUNNING)


def test_a_new_records_fields_read_back_as_a_queued_job_record() -> None:
    fields = new_record_fields("n1", "demo.job", "default", engine="temporal", reason="flag_off")
    assert set(fields) <= set(JobRecord.model_fields), "a field JobRecord does not know"
    record = JobRecord.from_hash({**fields, "payload": '{"a": 1}'})
    assert (record.job_id, record.name, record.queue) == ("n1", "demo.job", "default")
    assert record.state is JobState.QUEUED and record.engine == "temporal"
    assert record.reason == "flag_off" and record.attempts == 0 and record.extra == {}
    assert record.created_at == record.updated_at > 0
