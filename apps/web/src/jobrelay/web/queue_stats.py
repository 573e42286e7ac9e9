"""What each queue holds now, read from Redis: for ``GET /queues`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

from jobrelay.engines.dramatiq import DramatiqKeys
from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, unavailable_on_error
from pydantic import BaseModel


class QueueView(BaseModel):
    """One queue: its Dramatiq messages by kind, live workers per engine, and its pause."""

    name: str
    ready: int
    delayed: int
    dead: int
    live_workers: dict[str, int]
    paused: bool
    paused_at: float | None
    resumed_at: float | None


def read_queues(dispatcher: Any, names: list[str]) -> list[QueueView]:
    """The queues ``names`` as ``dispatcher``'s Redis has them (blocking: call it in a thread).

    Raises :class:`RedisUnavailable` when Redis does not answer.
    """
    pauses = dispatcher.pauses
    registry = dispatcher.workers.registry
    keys = DramatiqKeys(dispatcher.store.keys.dramatiq_namespace)
    out = []
    for name in names:
        pipe = pauses.client.pipeline(transaction=False)
        pipe.llen(keys.queue(name))
        pipe.llen(keys.queue(f"{name}.DQ"))
        pipe.zcard(keys.dead(name))
        with unavailable_on_error():
            ready, delayed, dead = pipe.execute()
        live = {
            engine: len(registry.live_workers(name, (engine,)))
            for engine in (ENGINE_DRAMATIQ, ENGINE_TEMPORAL)
        }
        state = pauses.state(name)
        out.append(
            QueueView(
                name=name,
                ready=ready,
                delayed=delayed,
                dead=dead,
                live_workers=live,
                paused=state.paused,
                paused_at=state.paused_at,
                resumed_at=state.resumed_at,
            )
        )
    return out
