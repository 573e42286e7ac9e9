"""Queues for an operator: what waits in each, and pausing and resuming one."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from jobrelay.queue import (
    QUEUES,
    QueuePauses,
    RedisUnavailable,
)
from pydantic import BaseModel

from ..auth import require_token
from ..params import QUEUE_NAME_PATTERN
from ..queue_stats import HistoryPoint, QueueView, read_history, read_queues

router = APIRouter(dependencies=[Depends(require_token)])
QueueName = Annotated[str, Path(pattern=QUEUE_NAME_PATTERN)]


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


async def _read(request: Request, names: list[str]) -> list[QueueView]:
    try:
        return await asyncio.to_thread(read_queues, request.app.state.dispatcher, names)
    except RedisUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from exc


@router.get("/queues")
async def queues(request: Request) -> list[QueueView]:
    """Every declared queue: messages by kind, jobs by state, the oldest waiting job's
    age, jobs finished per minute (1, 5, 15), live workers per engine, pause."""
    return await _read(request, list(QUEUES))


@router.get("/queues/{name}")
async def queue(name: QueueName, request: Request) -> QueueView:
    """One queue; 404 naming it when it is not declared."""
    return (await _read(request, [_known(name)]))[0]


@router.get("/queues/{name}/history")
async def history(
    name: QueueName,
    request: Request,
    minutes: Annotated[int, Query(ge=1, le=120)] = 60,
) -> list[HistoryPoint]:
    """The queue minute by minute, oldest first: jobs finished, and depth where sampled."""
    try:
        return await asyncio.to_thread(
            read_history, request.app.state.dispatcher, _known(name), minutes
        )
    except RedisUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from exc


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
