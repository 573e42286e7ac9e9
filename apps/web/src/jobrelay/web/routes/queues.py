"""Queues for an operator: what waits in each, and pausing and resuming one."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from jobrelay.engines.dramatiq import DramatiqKeys
from jobrelay.queue import (
    ENGINE_DRAMATIQ,
    ENGINE_TEMPORAL,
    QUEUES,
    QueuePauses,
    RedisUnavailable,
    WorkerRegistry,
)
from pydantic import BaseModel

from ..auth import require_token

router = APIRouter(dependencies=[Depends(require_token)])
QueueName = Annotated[str, Path(min_length=1, max_length=100)]


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


class PauseChange(BaseModel):
    queue: str
    paused: bool
    changed: bool


def _known(name: str) -> str:
    if name not in QUEUES:
        detail = [
            {"loc": ["path", "name"], "msg": f"unknown queue {name!r}", "type": "unknown_queue"}
        ]
        raise HTTPException(404, detail=detail)
    return name


def _view(
    name: str, pauses: QueuePauses, registry: WorkerRegistry, keys: DramatiqKeys
) -> QueueView:
    client = pauses.client
    pipe = client.pipeline(transaction=False)
    pipe.llen(keys.queue(name))
    pipe.llen(keys.queue(f"{name}.DQ"))
    pipe.zcard(keys.dead(name))
    ready, delayed, dead = pipe.execute()
    live = {
        engine: len(registry.live_workers(name, (engine,)))
        for engine in (ENGINE_DRAMATIQ, ENGINE_TEMPORAL)
    }
    state = pauses.state(name)
    return QueueView(
        name=name,
        ready=ready,
        delayed=delayed,
        dead=dead,
        live_workers=live,
        paused=state.paused,
        paused_at=state.paused_at,
        resumed_at=state.resumed_at,
    )


async def _read(request: Request, names: list[str]) -> list[QueueView]:
    dispatcher = request.app.state.dispatcher
    keys = DramatiqKeys(dispatcher.store.keys.dramatiq_namespace)
    registry = dispatcher.workers.registry
    try:
        return [
            await asyncio.to_thread(_view, name, dispatcher.pauses, registry, keys)
            for name in names
        ]
    except RedisUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from exc


@router.get("/queues")
async def queues(request: Request) -> list[QueueView]:
    """Every declared queue: ready, delayed and dead messages, live workers, pause."""
    return await _read(request, list(QUEUES))


@router.get("/queues/{name}")
async def queue(name: QueueName, request: Request) -> QueueView:
    """One queue; 404 naming it when it is not declared."""
    return (await _read(request, [_known(name)]))[0]


async def _change(request: Request, name: str, pause: bool) -> PauseChange:
    pauses: QueuePauses = request.app.state.dispatcher.pauses
    act = pauses.pause if pause else pauses.resume
    try:
        changed = await asyncio.to_thread(act, _known(name))
    except RedisUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from exc
    return PauseChange(queue=name, paused=pause, changed=changed)


@router.post("/queues/{name}/pause")
async def pause(name: QueueName, request: Request) -> PauseChange:
    """Pause a queue: its workers take no new messages; its dispatches wait on Dramatiq.

    No fallback to Temporal and no pickup deadline while paused (``changed``
    is false when it already was). Workers see it within a second.
    """
    return await _change(request, name, pause=True)


@router.post("/queues/{name}/resume")
async def resume(name: QueueName, request: Request) -> PauseChange:
    """Resume a paused queue; its waiting jobs get ``PICKUP_DEADLINE_S`` before deadlines count."""
    return await _change(request, name, pause=False)
