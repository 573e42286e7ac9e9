"""The Dramatiq Redis broker jobrelay uses, and the one place its Redis key layout is spelled."""

from __future__ import annotations

from typing import Any, NamedTuple
from uuid import uuid4

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import q_name, xq_name
from dramatiq.message import Message
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

# The message option carrying a job's priority key (1 first .. 5 last; absent: 3).
PRIORITY_OPTION = "jobrelay_priority"
NORMAL_PRIORITY = 3
PRIORITIES = (1, 2, 3, 4, 5)

# A message on its priority's lane, and a wake-up token for an idle consumer
# (as ADMIT does). KEYS: messages hash, lane list, wake-up list. ARGV: id, data.
_ENQUEUE = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[1])
if redis.call('LLEN', KEYS[3]) < 8 then redis.call('RPUSH', KEYS[3], '1') end
"""


def priority_of(options: dict[str, Any]) -> int:
    """The priority key a message's options carry (3, the default, when none or bad)."""
    value = options.get(PRIORITY_OPTION)
    return value if isinstance(value, int) and value in PRIORITIES else NORMAL_PRIORITY


class JobrelayBroker(RedisBroker):
    """Dramatiq's Redis broker, with priority lanes and a wake-up on every enqueue.

    A message that is due now goes on its priority's lane (``DramatiqKeys.lane``:
    the queue's own list for the default priority) with a wake-up token for an
    idle consumer, in one script: a delayed message moved to its queue when
    due, a retry, a woken sleeper keep their priority and are fetched at once
    rather than after the consumer's backoff. Jobrelay's consumer fetches the
    lanes in priority order. Delayed messages go through Dramatiq unchanged.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._enqueue_lane = self.client.register_script(_ENQUEUE)

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        queue_name = message.queue_name
        if delay is not None or q_name(queue_name) != queue_name:
            return super().enqueue(message, delay=delay)
        # What RedisBroker.enqueue does for an undelayed message, on its lane.
        message = message.copy(options={"redis_message_id": str(uuid4())})
        self.emit_before("enqueue", message, delay)
        keys = DramatiqKeys(self.namespace)
        self._enqueue_lane(
            keys=[
                keys.messages(queue_name),
                keys.lane(queue_name, priority_of(message.options)),
                keys.wake(queue_name),
            ],
            args=[message.options["redis_message_id"], message.encode()],
        )
        self.emit_after("enqueue", message, delay)
        return message


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
    return JobrelayBroker(
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

    def lane(self, queue_name: str, priority: int) -> str:
        """The list of ``queue_name``'s ready message ids of one priority (1 first .. 5 last).

        The default priority's lane is the queue's own list; the others are
        jobrelay's (not Dramatiq's), their messages in the queue's hash.
        """
        if priority == NORMAL_PRIORITY:
            return self.queue(queue_name)
        return f"{self.namespace}:{queue_name}.jobrelay-p{priority}"

    def lanes(self, queue_name: str) -> list[str]:
        """Every lane of ``queue_name``, in the order a consumer takes from them."""
        return [self.lane(queue_name, priority) for priority in PRIORITIES]

    @property
    def heartbeats(self) -> str:
        """Broker id -> the time of its last command (Dramatiq's liveness of workers)."""
        return f"{self.namespace}:__heartbeats__"

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
