"""Retries and redeliveries that survive Redis failing under them.

These tests kill Redis and restart it on its append-only file, so they get a
Redis server of their own: the session's other clients are left alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from jobrelay.devservers import RedisServer
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter
from jobrelay.engines.dramatiq.worker.consumer import requeue_on_ack, retry_on_ack
from jobrelay.queue import JobRecord, JobState, JobStore
from jobrelay.queue.codec import text


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer(aof=True) as server:
        yield server


def _poll(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.ConnectionError:
            pass  # the test's own pooled connections die with the others
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _outage(server: RedisServer, seconds: float) -> None:
    """Redis gone (connections refused) for ``seconds``, then back on its AOF."""
    server.kill()
    time.sleep(seconds)
    server.start()


def test_a_finished_step_waits_for_redis_instead_of_running_again(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes"
    workers(adapter, ["default"])
    job_id = submit("dtest.file_steps", {"path": str(notes)})
    _poll(lambda: notes.exists() and notes.read_text() == "one\n", "step one")
    server_gone = threading.Thread(target=_outage, args=(redis_server, 3.0))
    server_gone.start()
    time.sleep(0.5)
    # Step two ends while Redis is down: its result cannot be written yet.
    Path(f"{notes}.gate").touch()
    server_gone.join()

    record = wait_for(job_id, JobState.SUCCEEDED)

    assert notes.read_text() == "one\ntwo\nthree\n"
    assert record.attempts == 1


def test_a_delayed_retry_survives_its_consumer_losing_the_connection(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
    store: JobStore,
    redis_conn: redis.Redis,
    redis_server: RedisServer,
) -> None:
    workers(adapter, ["default"])
    job_id = submit("dtest.slow_retry", {"fail_times": 1})
    _poll(
        lambda: any(redis_conn.scard(k) for k in redis_conn.keys("*__acks__*.DQ")),
        "the retry to reach the worker's delay queue",
    )
    # The delay queue's consumer loses its connection while it holds the retry
    # in memory (due 3 s after the failure), and dramatiq empties that queue
    # when it reconnects.
    _outage(redis_server, 2.0)

    record = wait_for(job_id, JobState.SUCCEEDED, timeout=30)

    assert record.attempts == 2
    assert counts(job_id) == {"flaky-calls": 2}


def _fetch_one(broker: RedisBroker, queue: str) -> tuple[Any, Any]:
    consumer = broker.consume(queue, prefetch=1, timeout=100)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message = next(consumer)
        if message is not None:
            return consumer, message
    raise AssertionError(f"no message on {queue}")


def _stored(client: redis.Redis, messages_key: str, redis_id: str) -> dramatiq.Message[Any]:
    data = client.hget(messages_key, redis_id)
    assert isinstance(data, bytes), f"no message {redis_id} in {messages_key}"
    return dramatiq.Message.decode(data)


def _enqueue(adapter: DramatiqAdapter, store: JobStore, testjobs: ModuleType) -> str:
    job_id = f"redeliver-{time.monotonic_ns()}"
    assert store.create(JobRecord(job_id=job_id, name="dtest.quick", queue="scheduled"))
    adapter.enqueue(
        EngineJob(job_id=job_id, name="dtest.quick", queue="scheduled", payload={}),
        delay_s=None,
    )
    return job_id


def test_retry_on_ack_swaps_the_delivery_for_a_delayed_next_attempt(
    testjobs: ModuleType, adapter: DramatiqAdapter, store: JobStore, redis_conn: redis.Redis
) -> None:
    _enqueue(adapter, store, testjobs)
    consumer, message = _fetch_one(adapter.broker, "scheduled")
    namespace = adapter.broker.namespace
    before = int(time.time() * 1000)

    retry_on_ack(message, 5_000)
    consumer.ack(message)

    assert redis_conn.llen(f"{namespace}:scheduled") == 0
    assert redis_conn.hlen(f"{namespace}:scheduled.msgs") == 0
    [retry_id] = [text(i) for i in redis_conn.lrange(f"{namespace}:scheduled.DQ", 0, -1)]
    retry = _stored(redis_conn, f"{namespace}:scheduled.DQ.msgs", retry_id)
    assert retry.message_id == message.message_id
    assert retry.options["retries"] == 1
    assert retry.options["eta"] >= before + 5_000
    assert not any(redis_conn.scard(k) for k in redis_conn.keys(f"{namespace}:__acks__*"))


def test_retry_on_ack_of_a_delivery_already_put_back_sends_no_second_copy(
    testjobs: ModuleType, adapter: DramatiqAdapter, store: JobStore, redis_conn: redis.Redis
) -> None:
    _enqueue(adapter, store, testjobs)
    consumer, message = _fetch_one(adapter.broker, "scheduled")
    namespace = adapter.broker.namespace
    # What another worker's maintenance does for a worker that looked dead.
    consumer.requeue([message])

    retry_on_ack(message, 1)
    consumer.ack(message)

    assert redis_conn.llen(f"{namespace}:scheduled") == 1
    assert redis_conn.llen(f"{namespace}:scheduled.DQ") == 0


def test_requeue_on_ack_puts_the_same_attempt_back_on_its_queue(
    testjobs: ModuleType, adapter: DramatiqAdapter, store: JobStore, redis_conn: redis.Redis
) -> None:
    _enqueue(adapter, store, testjobs)
    consumer, message = _fetch_one(adapter.broker, "scheduled")
    namespace = adapter.broker.namespace

    requeue_on_ack(message)
    consumer.ack(message)

    [again_id] = [text(i) for i in redis_conn.lrange(f"{namespace}:scheduled", 0, -1)]
    assert again_id == message.options["redis_message_id"]
    again = _stored(redis_conn, f"{namespace}:scheduled.msgs", again_id)
    assert again.options.get("retries", 0) == 0
    assert not any(redis_conn.scard(k) for k in redis_conn.keys(f"{namespace}:__acks__*"))
