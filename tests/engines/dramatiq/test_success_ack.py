"""A job's success and its message's ack, written together by one script."""

from __future__ import annotations

import time

import dramatiq
import redis
from jobrelay.engines.dramatiq import MessageAck, make_broker
from jobrelay.engines.dramatiq.worker.success_ack import SuccessAck
from jobrelay.queue import JobRecord, JobState, JobStore, QueueSettings, dumps


def _record(job_id: str) -> JobRecord:
    return JobRecord(job_id=job_id, name="demo.job", queue="default", payload='{"a": 1}')


def _fetched_message(settings: QueueSettings) -> tuple[dramatiq.broker.MessageProxy, MessageAck]:
    """A message a consumer holds unacked, as a worker holds the one it runs."""
    broker = make_broker(settings)

    @dramatiq.actor(broker=broker, queue_name="default", actor_name="fetched")
    def fetched() -> None:
        pass

    fetched.send()
    consumer = broker.consume("default", prefetch=1, timeout=100)
    message = next(consumer)
    assert message is not None
    return message, MessageAck.of(broker, "default", message.options["redis_message_id"])


def test_succeed_and_ack_records_the_result_and_acks_the_message(
    store: JobStore, queue_settings: QueueSettings, redis_conn: redis.Redis
) -> None:
    store.create(_record("s1"), pickup_deadline=time.time() + 5)
    store.claim_and_start("s1", "dramatiq", attempt=1)
    _, ack = _fetched_message(queue_settings)
    assert redis_conn.sismember(ack.acks_key, ack.message_id)

    assert SuccessAck(store)([("s1", dumps({"ok": True}), ack)]) == [True]

    done = store.get("s1")
    assert done is not None and done.state is JobState.SUCCEEDED
    assert done.result == '{"ok":true}' and done.progress == 100
    assert not redis_conn.sismember(ack.acks_key, ack.message_id), "message still unacked"
    assert not redis_conn.hexists(ack.messages_key, ack.message_id), "message data left behind"
    assert 0 < redis_conn.ttl(queue_settings.keys.job("s1")) <= store.retention_s


def test_succeed_and_ack_acks_even_when_the_job_already_finished(
    store: JobStore, queue_settings: QueueSettings, redis_conn: redis.Redis
) -> None:
    store.create(_record("s2"))
    store.finish("s2", JobState.CANCELLED, error="stop")
    _, ack = _fetched_message(queue_settings)

    assert SuccessAck(store)([("s2", dumps(1), ack)]) == [False]

    kept = store.get("s2")
    assert kept is not None and kept.state is JobState.CANCELLED, "the first outcome wins"
    assert not redis_conn.sismember(ack.acks_key, ack.message_id)
