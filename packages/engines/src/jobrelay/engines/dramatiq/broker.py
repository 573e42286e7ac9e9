"""The Dramatiq Redis broker jobrelay uses, and the one place its Redis key layout is spelled."""

from __future__ import annotations

from typing import Any, NamedTuple

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import xq_name
from dramatiq.middleware import (
    AgeLimit,
    AsyncIO,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from jobrelay.queue import QueueSettings, redis_client

# Milliseconds without a broker heartbeat before Dramatiq's maintenance gives a
# dead worker's unacked messages to another worker.
DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000


def make_broker(
    settings: QueueSettings,
    *,
    client: redis.Redis | None = None,
    heartbeat_timeout_ms: int = DEFAULT_HEARTBEAT_TIMEOUT_MS,
    maintenance_chance: int = 10_000,
    **retries: Any,
) -> RedisBroker:
    """A Dramatiq Redis broker for jobrelay, never the implicit global one.

    JSON encoding only; AsyncIO and CurrentMessage middleware for the async
    adapter; keys under ``{prefix}dq``. ``retries`` goes to the Retries
    middleware (``max_retries``, ``min_backoff``, ``max_backoff`` in ms).
    """
    dramatiq.set_encoder(dramatiq.JSONEncoder())
    middleware = [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(**retries),
        AsyncIO(),
        CurrentMessage(),
    ]
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client or redis_client(settings),
        middleware=middleware,
        namespace=settings.keys.dramatiq_namespace,
        heartbeat_timeout=heartbeat_timeout_ms,
        maintenance_chance=maintenance_chance,
    )


class DramatiqKeys(NamedTuple):
    """Dramatiq's Redis broker keys under ``namespace`` (its ``brokers/redis/dispatch.lua``).

    Dramatiq computes these inside its Lua script; jobrelay's own scripts
    (the acks that carry outcomes, the one-round-trip enqueue, dead letters)
    touch the same keys, so they take them from here.
    """

    namespace: str

    def queue(self, queue_name: str) -> str:
        """The list of message ids waiting on ``queue_name`` (``name.DQ`` for its delays)."""
        return f"{self.namespace}:{queue_name}"

    def messages(self, queue_name: str) -> str:
        """The hash of ``queue_name``'s encoded messages by their Redis message id."""
        return f"{self.namespace}:{queue_name}.msgs"

    def wake(self, queue_name: str) -> str:
        """jobrelay's own list of wake-up tokens for ``queue_name``'s idle consumers.

        Not a Dramatiq key: the one-round-trip enqueue pushes a token (at most
        a few wait), and an idle :class:`JobConsumer` blocks on it instead of
        sleeping, so a new message is fetched at once rather than after a poll.
        """
        return f"{self.namespace}:{queue_name}.jobrelay-wake"

    def acks(self, broker_id: str, queue_name: str) -> str:
        """The ids of ``queue_name``'s messages broker ``broker_id`` took and has not acked."""
        return f"{self.namespace}:__acks__.{broker_id}.{queue_name}"

    def dead(self, queue_name: str) -> str:
        """The dead-letter zset of ``queue_name`` (its messages in ``messages(xq_name(...))``)."""
        return self.queue(xq_name(queue_name))


class MessageAck(NamedTuple):
    """Where a worker's unacked Dramatiq message sits, so a script can ack it.

    The key layout is :class:`DramatiqKeys`.
    """

    acks_key: str
    messages_key: str
    message_id: str

    @classmethod
    def of(cls, broker: RedisBroker, queue_name: str, redis_message_id: str) -> MessageAck:
        """The ack of message ``redis_message_id``, fetched from ``queue_name`` by ``broker``."""
        keys = DramatiqKeys(broker.namespace)
        return cls(
            acks_key=keys.acks(broker.broker_id, queue_name),
            messages_key=keys.messages(queue_name),
            message_id=redis_message_id,
        )
