"""The whole system at a glance: for ``/readyz``, ``GET /summary`` and the dashboard."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, QUEUES, RedisUnavailable
from pydantic import BaseModel

from .queue_stats import QueueView, read_queues


class DramatiqState(BaseModel):
    ready: bool
    """Whether a dispatch would go to Dramatiq now (flag on, Redis up, a live worker)."""
    use_dramatiq: bool
    redis: str
    breaker: str
    live_workers: dict[str, int]


class TemporalState(BaseModel):
    ready: bool


class EngineStates(BaseModel):
    """Whether each engine can take a job now; ``status`` is ``ready`` while either can."""

    status: str
    dramatiq: DramatiqState
    temporal: TemporalState


class Summary(BaseModel):
    """Engines, workers, jobs by state, where the last hour's jobs went and why, each queue."""

    engines: EngineStates
    workers: dict[str, int]
    """Live workers per engine, over all queues."""
    states: dict[str, int]
    """Jobs in the index by state (within the retention period)."""
    dispatch_reasons: dict[str, int]
    """Jobs recorded in the last hour by why they went where they went (``ok``: Dramatiq)."""
    temporal_share: float | None
    """Share of the last hour's jobs that went to Temporal (a reason other than ``ok``)."""
    queues: list[QueueView]


async def engine_states(dispatcher: Any) -> EngineStates:
    """Each engine's readiness, asking Redis and Temporal now (the breaker's state included)."""
    redis_ok = await dispatcher.health.ais_healthy()
    live: dict[str, int] = {}
    if redis_ok:
        registry = dispatcher.workers.registry
        try:
            for queue in QUEUES:
                live[queue] = await asyncio.to_thread(registry.live_count, queue)
        except RedisUnavailable:
            redis_ok = False
    dramatiq_ok = bool(dispatcher.settings.use_dramatiq and redis_ok and any(live.values()))
    try:
        temporal_ok = bool(await (await dispatcher.temporal.get()).healthy())
    except Exception:
        temporal_ok = False  # not connected, and could not connect now
    return EngineStates(
        status="ready" if dramatiq_ok or temporal_ok else "unavailable",
        dramatiq=DramatiqState(
            ready=dramatiq_ok,
            use_dramatiq=dispatcher.settings.use_dramatiq,
            redis="up" if redis_ok else "down",
            breaker=dispatcher.health.state.value,
            live_workers=live,
        ),
        temporal=TemporalState(ready=temporal_ok),
    )


async def summary(dispatcher: Any) -> Summary:
    """The whole picture; raises :class:`RedisUnavailable` when Redis does not answer."""
    engines = await engine_states(dispatcher)
    return await asyncio.to_thread(_read_summary, dispatcher, engines)


def _read_summary(dispatcher: Any, engines: EngineStates) -> Summary:
    registry = dispatcher.workers.registry
    workers: dict[str, set[str]] = {ENGINE_DRAMATIQ: set(), ENGINE_TEMPORAL: set()}
    for queue in QUEUES:
        for engine, ids in workers.items():
            ids.update(w.worker_id for w in registry.live_workers(queue, (engine,)))
    reasons = dispatcher.index.dispatch_reasons(int(time.time() // 60))
    total = sum(reasons.values())
    return Summary(
        engines=engines,
        workers={engine: len(ids) for engine, ids in workers.items()},
        states=dispatcher.index.count_by_state(),
        dispatch_reasons=reasons,
        temporal_share=None if not total else round(1 - reasons.get("ok", 0) / total, 4),
        queues=read_queues(dispatcher, list(QUEUES)),
    )
