"""The Redis consumer of jobrelay workers: poison messages and acks that carry outcomes.

Dramatiq's own consumer lets a decode error escape: the consumer thread
restarts, the bad message stays in this worker's unacked set for as long as
the worker lives (and goes to the next worker after that), and the other
prefetched messages in memory are stranded with it. This one dead-letters it.

A job's success is written by the ack of its message, in one script: no
window in which a worker that dies between the two leaves a finished job's
message to run again, or an acked message whose job never finished. Acks
from the worker threads go to Redis together (group commit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed, DecodeError
from jobrelay.queue import JobState, JobStore, MessageAck, RedisUnavailable

from .deadletter import dead_letter_raw
from .group_commit import GroupCommit

logger = logging.getLogger("jobrelay.dramatiq")

_SUCCESS_ATTR = "_jobrelay_success"


@dataclass(frozen=True)
class _Success:
    job_id: str
    result: Any
    result_json: str


def succeed_on_ack(message: MessageProxy, job_id: str, result: Any, result_json: str) -> None:
    """Have the ack of ``message`` also record ``job_id`` as succeeded.

    ``result_json`` is ``result`` encoded with ``jobrelay.queue.dumps``.
    """
    setattr(message, _SUCCESS_ATTR, _Success(job_id, result, result_json))


def _success_of(message: MessageProxy) -> _Success | None:
    # MessageProxy forwards unknown attributes to the message, which raises.
    return message.__dict__.get(_SUCCESS_ATTR)


class JobConsumer(_RedisConsumer):
    """The broker's consumer, plus a DLQ for undecodable messages and outcome-carrying acks."""

    def __init__(
        self,
        broker: RedisBroker,
        store: JobStore,
        succeed_and_ack: GroupCommit[tuple[str, str, MessageAck], bool],
        queue_name: str,
        prefetch: int,
        timeout: int,
    ) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self._store = store
        self._succeed_and_ack = succeed_and_ack

    def ack(self, message: MessageProxy) -> None:
        success = _success_of(message)
        if success is None:
            super().ack(message)  # type: ignore[no-untyped-call]
            return
        ack = MessageAck.of(self.broker, self.queue_name, message.options["redis_message_id"])
        try:
            self._succeed_and_ack((success.job_id, success.result_json, ack))
        except RedisUnavailable as exc:
            # Dramatiq retries an ack that hit a connection error until it lands.
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        self.queued_message_ids.discard(message.message_id)

    def nack(self, message: MessageProxy) -> None:
        success = _success_of(message)
        if success is not None:
            # Something after the job failed the message; the job still succeeded.
            try:
                self._store.finish(success.job_id, JobState.SUCCEEDED, result=success.result)
            except RedisUnavailable as exc:
                raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        super().nack(message)  # type: ignore[no-untyped-call]

    def __next__(self) -> MessageProxy | None:
        while True:
            try:
                return super().__next__()  # type: ignore[no-untyped-call,no-any-return]
            except DecodeError as exc:
                raw = exc.data if isinstance(exc.data, bytes) else str(exc.data).encode()
                reason = f"undecodable message: {exc.error}"
                if not dead_letter_raw(self.broker, self.queue_name, raw, reason):
                    logger.error(
                        "undecodable message on %s not found to dead-letter", self.queue_name
                    )


def install_consumer(broker: RedisBroker, store: JobStore) -> None:
    """Make ``broker`` hand out :class:`JobConsumer`s (writing to ``store``) to its workers."""

    succeed_and_ack = GroupCommit(store.succeed_and_ack)

    def consume(queue_name: str, prefetch: int = 1, timeout: int = 5000, **_: Any) -> Consumer:
        return JobConsumer(broker, store, succeed_and_ack, queue_name, prefetch, timeout)

    # RedisBroker has no consumer-class setting; an instance attribute is the
    # narrowest way to swap it for this broker only.
    broker.consume = consume  # type: ignore[method-assign]
