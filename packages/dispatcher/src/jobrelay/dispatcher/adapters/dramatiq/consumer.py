"""A Redis consumer that dead-letters undecodable messages instead of stalling.

Dramatiq's own consumer lets a decode error escape: the consumer thread
restarts, the bad message stays in this worker's unacked set for as long as
the worker lives (and goes to the next worker after that), and the other
prefetched messages in memory are stranded with it.
"""

from __future__ import annotations

import logging
from typing import Any

from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import DecodeError

from .deadletter import dead_letter_raw

logger = logging.getLogger("jobrelay.dramatiq")


class PoisonSafeConsumer(_RedisConsumer):
    """Like the broker's consumer, but an undecodable message goes to the DLQ."""

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


def install_poison_guard(broker: RedisBroker) -> None:
    """Make ``broker`` hand out :class:`PoisonSafeConsumer`s to its workers."""

    def consume(queue_name: str, prefetch: int = 1, timeout: int = 5000, **_: Any) -> Consumer:
        return PoisonSafeConsumer(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]

    # RedisBroker has no consumer-class setting; an instance attribute is the
    # narrowest way to swap it for this broker only.
    broker.consume = consume  # type: ignore[method-assign]
