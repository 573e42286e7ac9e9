from __future__ import annotations

from typing import Any, NamedTuple

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
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

from .connection import redis_client
from .settings import QueueSettings

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


class MessageAck(NamedTuple):
    """Where a worker's unacked Dramatiq message sits, so a script can ack it.

    The key layout is dramatiq's ``brokers/redis/dispatch.lua``.
    """

    acks_key: str
    messages_key: str
    message_id: str

    @classmethod
    def of(cls, broker: RedisBroker, queue_name: str, redis_message_id: str) -> MessageAck:
        """The ack of message ``redis_message_id``, fetched from ``queue_name`` by ``broker``."""
        namespace = broker.namespace
        return cls(
            acks_key=f"{namespace}:__acks__.{broker.broker_id}.{queue_name}",
            messages_key=f"{namespace}:{queue_name}.msgs",
            message_id=redis_message_id,
        )
