"""Broker liveness and crash recovery on a timer instead of by chance.

Dramatiq's Redis broker records a worker's liveness only as a side effect of
its commands, and a worker whose threads are all busy and whose prefetch is
full sends none: a long job would make a healthy worker look dead. Its
maintenance (giving a dead worker's unacked messages back to the queue) runs
on a random fraction of commands, so recovery time is luck. This keeper
sends both on a fixed tick, for each queue this worker consumes.
"""

from __future__ import annotations

from collections.abc import Iterable

from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from jobrelay.queue import unavailable_on_error

# Not a broker command: dispatch.lua records the heartbeat, runs maintenance
# when asked, then finds nothing to do for this name.
_NOOP_COMMAND = "jobrelay_maintenance"


def beat_and_maintain(broker: RedisBroker, queues: Iterable[str]) -> None:
    """Record ``broker``'s heartbeat and requeue dead workers' messages of ``queues``.

    ``queues`` are Dramatiq queue names, delay queues (``name.DQ``) included.
    Raises RedisUnavailable when Redis does not answer.
    """
    dispatch = broker.scripts["dispatch"]
    with unavailable_on_error():
        for queue in queues:
            dispatch(
                keys=[broker.namespace],
                args=[
                    _NOOP_COMMAND,
                    current_millis(),
                    queue,
                    broker.broker_id,
                    broker.heartbeat_timeout,
                    broker.dead_message_ttl,
                    1,
                    broker._max_unpack_size(),  # type: ignore[no-untyped-call]
                ],
            )
