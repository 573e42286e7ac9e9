"""Dead-lettering with a reason, and reading the dead-letter queue back.

Dramatiq's Redis broker keeps a queue's messages in ``{ns}:{queue}.msgs``
(message id -> encoded message) and moves a rejected (nacked) message's
stored bytes to ``{ns}:{queue}.XQ`` / ``.XQ.msgs``. To keep the reason with
the message we rewrite the stored bytes with the reason in its options just
before the worker nacks it. The layout is documented in dramatiq's
``brokers/redis/dispatch.lua``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from typing import Any

import redis
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import q_name, xq_name
from jobrelay.queue import RedisUnavailable, unavailable_on_error
from pydantic import BaseModel

from .broker import DramatiqKeys

logger = logging.getLogger("jobrelay.dramatiq")

REASON_OPTION = "jobrelay_dead_reason"
RAW_OPTION = "jobrelay_raw_message"
UNDECODABLE_ACTOR = "jobrelay.undecodable"


class DeadLetter(BaseModel):
    """One message in a dead-letter queue and why it is there.

    ``redis_id`` is its member in the queue's ``.XQ`` set (what
    :func:`remove_dead_letter` takes); ``job_id`` and ``job_name`` are None
    for a message that is not a jobrelay job's (an undecodable one, say).
    """

    redis_id: str
    message_id: str
    actor_name: str
    args: list[Any]
    reason: str
    dead_at: float
    job_id: str | None = None
    job_name: str | None = None


def _messages_key(broker: RedisBroker, queue_name: str) -> str:
    return DramatiqKeys(broker.namespace).messages(queue_name)


def dead_letter(broker: RedisBroker, message: MessageProxy, reason: str) -> None:
    """Send the message being processed to its dead-letter queue with ``reason``.

    The worker nacks it once the actor returns; nothing is retried.
    """
    logger.error("dead-lettering message %s: %s", message.message_id, reason)
    tagged = message.copy(options={REASON_OPTION: reason})
    try:
        with unavailable_on_error():
            broker.client.hset(
                _messages_key(broker, message.queue_name),
                message.options["redis_message_id"],
                tagged.encode(),
            )
    except RedisUnavailable:
        # The message still goes to the DLQ when the nack gets through, only without the reason.
        logger.warning("could not record the dead-letter reason of %s", message.message_id)
    message.fail()


def dead_letter_raw(broker: RedisBroker, queue_name: str, raw: bytes, reason: str) -> bool:
    """Dead-letter bytes this consumer fetched but could not decode.

    Finds the broker's id for ``raw`` among this broker's unacked messages of
    ``queue_name``, replaces it by a decodable message holding the reason and
    the original text, and nacks it. False when it was not found.
    """
    client: redis.Redis = broker.client
    acks = DramatiqKeys(broker.namespace).acks(broker.broker_id, queue_name)
    messages = _messages_key(broker, queue_name)
    ids = list(client.smembers(acks))
    stored = client.hmget(messages, ids) if ids else []
    for member, data in zip(ids, stored, strict=True):
        if data != raw:
            continue
        redis_id = member.decode() if isinstance(member, bytes) else str(member)
        wrapper: Message[Any] = Message(
            queue_name=q_name(queue_name),
            actor_name=UNDECODABLE_ACTOR,
            args=(),
            kwargs={},
            options={
                REASON_OPTION: reason,
                RAW_OPTION: raw.decode("utf-8", errors="replace")[:10_000],
            },
            message_id=str(uuid.uuid4()),
        )
        client.hset(messages, redis_id, wrapper.encode())
        broker.do_nack(queue_name, redis_id)
        logger.error("dead-lettered an undecodable message on %s: %s", queue_name, reason)
        return True
    return False


def read_dead_letters(broker: RedisBroker, queue: str) -> list[DeadLetter]:
    """The dead-letter queue of ``queue``, oldest first."""
    keys = DramatiqKeys(broker.namespace)
    name = q_name(queue)
    with unavailable_on_error():
        entries = broker.client.zrange(keys.dead(name), 0, -1, withscores=True)
        ids = [e[0] for e in entries]
        raw = broker.client.hmget(keys.messages(xq_name(name)), ids) if entries else []
    out: list[DeadLetter] = []
    for (redis_id, score), data in zip(entries, raw, strict=True):
        if data is None:
            continue
        try:
            message = Message.decode(data)
            reason = str(message.options.get(REASON_OPTION, "retries exhausted"))
            args = list(message.args)
            is_job = message.actor_name != UNDECODABLE_ACTOR and len(args) >= 2
            out.append(
                DeadLetter(
                    redis_id=redis_id.decode(),
                    message_id=message.message_id,
                    actor_name=message.actor_name,
                    args=args,
                    reason=reason,
                    dead_at=score / 1000,
                    job_id=str(args[0]) if is_job else None,
                    job_name=str(args[1]) if is_job else None,
                )
            )
        except Exception as exc:  # a DLQ written by something else: show it, do not fail
            out.append(
                DeadLetter(
                    redis_id=redis_id.decode(),
                    message_id=redis_id.decode(),
                    actor_name="",
                    args=[],
                    reason=f"undecodable: {exc}",
                    dead_at=score / 1000,
                )
            )
    return out


def remove_dead_letter(broker: RedisBroker, queue: str, redis_id: str) -> bool:
    """Delete one message from ``queue``'s dead letters (retried, or purged); False if absent."""
    return _remove(broker, queue, [redis_id]) == 1


def remove_dead_letters_of(broker: RedisBroker, queue: str, job_ids: Collection[str]) -> int:
    """Delete the dead letters of ``queue`` whose job is one of ``job_ids`` (jobs retried
    since: their letters would show a job that runs again). One read of the queue's
    dead letters, one transaction; returns how many went."""
    wanted = set(job_ids)
    if not wanted:
        return 0
    gone = [
        letter.redis_id
        for letter in read_dead_letters(broker, queue)
        if letter.job_id is not None and letter.job_id in wanted
    ]
    return _remove(broker, queue, gone) if gone else 0


def _remove(broker: RedisBroker, queue: str, redis_ids: list[str]) -> int:
    """Delete these messages from ``queue``'s dead letters in one transaction; how many were."""
    keys = DramatiqKeys(broker.namespace)
    name = q_name(queue)
    pipe = broker.client.pipeline(transaction=True)
    pipe.zrem(keys.dead(name), *redis_ids)
    pipe.hdel(keys.messages(xq_name(name)), *redis_ids)
    with unavailable_on_error():
        removed, _ = pipe.execute()
    return int(removed)
