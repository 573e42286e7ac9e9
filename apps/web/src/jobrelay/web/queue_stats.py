"""What each queue holds now and did lately, read from Redis: for ``GET /queues``,
the dashboard and ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from jobrelay.dispatcher import FlowLimits
from jobrelay.engines.dramatiq import DramatiqKeys
from jobrelay.job_engine import list_jobs
from jobrelay.queue import (
    ENGINE_DRAMATIQ,
    ENGINE_TEMPORAL,
    QUEUES,
    FlowGate,
    JobState,
    RedisUnavailable,
    unavailable_on_error,
)
from pydantic import BaseModel

logger = logging.getLogger("jobrelay.web")

# A depth sample is kept this long: the dashboard charts the last hour.
_SAMPLE_TTL_S = 2 * 3600


class QueueFlow(FlowLimits):
    """One job of a queue under flow control: what it declares, and who waits now."""

    job: str
    waiting: int
    """Jobs told to wait for a concurrency slot, not yet past their retry."""
    throttled: int
    """Jobs told to wait for their turn under the rate limit."""


class QueueView(BaseModel):
    """One queue: messages by kind, jobs by state, recent throughput, workers, pause."""

    name: str
    ready: int
    """Dramatiq messages ready to be taken (every priority's lane)."""
    delayed: int
    """Dramatiq messages waiting for their time (delays and retries)."""
    dead: int
    """Dramatiq dead letters."""
    queued: int
    """Jobs waiting to start, on either engine (the job index)."""
    running: int
    sleeping: int
    oldest_waiting_s: float | None
    """Age of the oldest job still waiting to start; None when none waits."""
    finished_per_minute: dict[str, float]
    """Jobs finished per minute, averaged over the last 1, 5 and 15 minutes (each window
    is the current minute so far and the whole minutes before it)."""
    live_workers: dict[str, int]
    paused: bool
    paused_at: float | None
    resumed_at: float | None
    ready_by_priority: dict[str, int] = {}
    """Ready Dramatiq messages by priority key (1 first .. 5 last), the non-empty lanes."""
    flow: list[QueueFlow] = []
    """The queue's jobs that declare flow control (those this process loads)."""


class HistoryPoint(BaseModel):
    """One minute of a queue: jobs finished in it, and its depth when last sampled."""

    at: datetime
    finished: int
    depth: int | None


def read_queues(dispatcher: Any, names: list[str]) -> list[QueueView]:
    """The queues ``names`` as ``dispatcher``'s Redis has them (blocking: call it in a thread).

    Raises :class:`RedisUnavailable` when Redis does not answer.
    """
    pauses = dispatcher.pauses
    registry = dispatcher.workers.registry
    index = dispatcher.index
    keys = DramatiqKeys(dispatcher.store.keys.dramatiq_namespace)
    now = time.time()
    minute = int(now // 60)
    out = []
    gate = FlowGate(pauses.client, dispatcher.store.keys)
    for name in names:
        pipe = pauses.client.pipeline(transaction=False)
        lanes = keys.lanes(name)
        for lane in lanes:
            pipe.llen(lane)
        pipe.llen(keys.queue(f"{name}.DQ"))
        pipe.zcard(keys.dead(name))
        with unavailable_on_error():
            *by_lane, delayed, dead = pipe.execute()
        ready = sum(by_lane)
        by_priority = {str(i + 1): n for i, n in enumerate(by_lane) if n}
        states = index.count_by_state(name)
        oldest = index.oldest_created(name, JobState.QUEUED)
        # Windows end now: the current minute so far, then the minutes before it.
        done = index.finished_per_minute(name, minute, minutes=15)
        rates = {str(n): round(sum(done[-n:]) / n, 2) for n in (1, 5, 15)}
        _sample(dispatcher, name, minute, states[JobState.QUEUED])
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
                queued=states[JobState.QUEUED],
                running=states[JobState.RUNNING],
                sleeping=states[JobState.SLEEPING],
                oldest_waiting_s=None if oldest is None else round(max(0.0, now - oldest), 3),
                finished_per_minute=rates,
                live_workers=live,
                paused=state.paused,
                paused_at=state.paused_at,
                resumed_at=state.resumed_at,
                ready_by_priority=by_priority,
                flow=_flows(gate, name),
            )
        )
    return out


def _flows(gate: FlowGate, queue: str) -> list[QueueFlow]:
    """Flow control of ``queue``'s jobs: one round trip per job that declares any."""
    out = []
    for definition in list_jobs():
        if definition.queue != queue or not definition.flow.declared:
            continue
        counts = gate.counts(definition.name)
        out.append(
            QueueFlow(
                job=definition.name,
                **definition.flow.describe(),
                waiting=counts.waiting,
                throttled=counts.throttled,
            )
        )
    return out


def read_history(dispatcher: Any, name: str, minutes: int = 60) -> list[HistoryPoint]:
    """The last ``minutes`` minutes of queue ``name``, oldest first (blocking: use a thread).

    Depth is sampled whenever the queue is read (``GET /queues``, a
    ``/metrics`` scrape, the web app's own sampler), so a minute nobody
    looked at has none.
    """
    minute = int(time.time() // 60)
    finished = dispatcher.index.finished_per_minute(name, minute, minutes=minutes)
    first = minute - minutes + 1
    keys = [dispatcher.store.keys.depth_in_minute(name, m) for m in range(first, minute + 1)]
    with unavailable_on_error():
        depths = dispatcher.store.client.mget(keys)
    return [
        HistoryPoint(
            at=datetime.fromtimestamp((first + i) * 60, UTC),
            finished=done,
            depth=None if depth is None else int(depth),
        )
        for i, (done, depth) in enumerate(zip(finished, depths, strict=True))
    ]


def _sample(dispatcher: Any, name: str, minute: int, depth: int) -> None:
    # Every reader writes the same minute's value: replicas agree without a leader.
    with unavailable_on_error():
        dispatcher.store.client.set(
            dispatcher.store.keys.depth_in_minute(name, minute), depth, ex=_SAMPLE_TTL_S
        )


async def sample_forever(dispatcher: Any, stop: asyncio.Event, interval_s: float) -> None:
    """Read every queue each ``interval_s`` until ``stop``: the reads leave depth samples."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(read_queues, dispatcher, list(QUEUES))
        except RedisUnavailable as exc:
            logger.debug("queue depth not sampled: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
