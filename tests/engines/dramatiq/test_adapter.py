from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq import Message
from jobrelay.devservers import RedisServer
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter, actor_name, make_broker
from jobrelay.queue import QUEUES, JobState, JobStore, QueueSettings, RedisUnavailable, redis_client


def test_one_actor_per_queue_with_the_queue_defaults(adapter: DramatiqAdapter) -> None:
    for name, spec in QUEUES.items():
        actor = adapter.actor(name)
        assert actor.queue_name == name and actor.actor_name == actor_name(name)
        assert actor.options["max_retries"] == spec.max_retries
        assert actor.options["time_limit"] == spec.time_limit_s * 1000
    assert adapter.broker.get_declared_queues() == set(QUEUES)


def test_the_job_policy_travels_in_the_message(
    testjobs: ModuleType, adapter: DramatiqAdapter, redis_conn: redis.Redis
) -> None:
    job_id = uuid.uuid4().hex
    adapter.enqueue(EngineJob(job_id=job_id, name="dtest.slow", queue="default", payload={}))

    [raw] = redis_conn.hvals(f"{adapter.broker.namespace}:default.msgs")
    message = Message.decode(raw if isinstance(raw, bytes) else raw.encode())
    assert message.args == (job_id, "dtest.slow", {})
    assert message.options["max_retries"] == 1
    assert message.options["min_backoff"] == 50
    assert message.options["max_backoff"] == QUEUES["default"].max_backoff_s * 1000
    assert message.options["time_limit"] == 300


def test_enqueue_raises_redis_unavailable_when_redis_is_down(
    testjobs: ModuleType, own_redis: RedisServer
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=f"t{uuid.uuid4().hex[:8]}:")
    store = JobStore.from_settings(redis_client(settings), settings)
    adapter = DramatiqAdapter(make_broker(settings), store, settings)
    own_redis.stop()
    job = EngineJob(job_id="j1", name="dtest.quick", queue="scheduled", payload={})

    started = time.monotonic()
    with pytest.raises(RedisUnavailable):
        adapter.enqueue(job)
    with pytest.raises(RedisUnavailable):
        adapter.enqueue(job, delay_s=3600)
    # Refused at once (milliseconds); an enqueue that waited for Redis to come
    # back would hang here for good. 5 s is room for a loaded machine, not a
    # speed target (that belongs in bench/).
    assert time.monotonic() - started < 5


def test_the_time_limit_interrupts_and_retries_then_dead_letters(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
    until: Callable[..., None],
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.slow")

    record = wait_for(job_id, JobState.DEAD, timeout=30)

    assert record.attempts == 2
    assert record.error == "gave up after 2 attempts: interrupted: time limit exceeded"
    assert counts(job_id) == {"stall-calls": 2}
    # The record says dead first; the message reaches the dead-letter queue
    # once the worker nacks it, a moment later.
    until(lambda: adapter.dead_letters("default"), what="the dead letter")
    assert [d.reason for d in adapter.dead_letters("default")] == [record.error]


def test_a_success_is_recorded_and_its_message_acked_together(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    redis_conn: redis.Redis,
) -> None:
    workers(adapter, ["default"])
    job_ids = [submit("dtest.three_steps") for _ in range(20)]

    for job_id in job_ids:
        assert wait_for(job_id, JobState.SUCCEEDED).result == '{"one":1,"two":1,"three":1}'
    # Atomic with the outcome: no later ack to wait for.
    namespace = adapter.broker.namespace
    assert redis_conn.hlen(f"{namespace}:default.msgs") == 0, "message data left behind"
    unacked = [
        member
        for key in redis_conn.scan_iter(f"{namespace}:__acks__.*")
        for member in redis_conn.smembers(key)
    ]
    assert unacked == [], "succeeded jobs left unacked messages, which would run again"


def test_a_result_that_is_not_json_fails_the_job_without_a_retry(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.opaque")

    record = wait_for(job_id, JobState.FAILED)

    assert record.error is not None and record.error.startswith("job returned a non-JSON value")
    assert counts(job_id) == {"runs": 1}
