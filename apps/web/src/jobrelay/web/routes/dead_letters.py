"""Dead letters for an operator: read them, retry their jobs, purge what cannot run."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from jobrelay.dispatcher import DispatchReceipt, JobNotFound, JobNotRetryable, StatusUnavailable
from jobrelay.engines.dramatiq import DeadLetter
from jobrelay.queue import QUEUES, RedisUnavailable
from pydantic import BaseModel

from ..auth import require_token
from ..params import MessageIdPath, QueuePath, QueueQuery

router = APIRouter(dependencies=[Depends(require_token)])


class RetriedLetters(BaseModel):
    """What ``POST /dead-letters/{queue}/retry`` did: retried jobs, and the letters left."""

    retried: list[DispatchReceipt]
    left: list[dict[str, str]]


def _queue(name: str, where: list[str | int]) -> str:
    if name not in QUEUES:
        detail = [{"loc": where, "msg": f"unknown queue {name!r}", "type": "unknown_queue"}]
        raise HTTPException(404 if where[0] == "path" else 422, detail=detail)
    return name


async def _letters(request: Request, queue: str) -> list[DeadLetter]:
    dramatiq = request.app.state.dispatcher.dramatiq
    try:
        letters: list[DeadLetter] = await asyncio.to_thread(dramatiq.dead_letters, queue)
    except RedisUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from exc
    return letters


@router.get("/dead-letters")
async def dead_letters(request: Request, queue: QueueQuery = "default") -> list[DeadLetter]:
    """A queue's dead letters, oldest first: job id and name, reason, when."""
    return await _letters(request, _queue(queue, ["query", "queue"]))


async def _retry(
    request: Request, queue: str, letter: DeadLetter, *, drop: bool = True
) -> DispatchReceipt:
    """Retry the letter's job; ``drop``: delete its letters now (else the caller does)."""
    if letter.job_id is None:
        detail = [
            {
                "loc": ["path", "redis_id"],
                "msg": "not a job's message (undecodable?): purge it with DELETE",
                "type": "not_a_job",
            }
        ]
        raise HTTPException(409, detail=detail)
    dispatcher: Any = request.app.state.dispatcher
    if drop:
        # The retry deletes the job's letters, this one among them.
        receipt: DispatchReceipt = await dispatcher.retry(letter.job_id)
        return receipt
    receipt, _ = await dispatcher.retries.run_again(letter.job_id, fresh=False)
    return receipt


@router.post("/dead-letters/{queue}/retry")
async def retry_all(queue: QueuePath, request: Request) -> RetriedLetters:
    """Retry the job of every dead letter of ``queue``; the letters of retried jobs go.

    A letter is left (with why) when its job cannot be retried now: gone,
    already running again or succeeded, or not a job at all.
    """
    name = _queue(queue, ["path", "queue"])
    retried: list[DispatchReceipt] = []
    left: list[dict[str, str]] = []
    for letter in await _letters(request, name):
        try:
            retried.append(await _retry(request, name, letter, drop=False))
        except (HTTPException, JobNotFound, JobNotRetryable, StatusUnavailable) as exc:
            why = str(exc.detail) if isinstance(exc, HTTPException) else str(exc)
            left.append({"redis_id": letter.redis_id, "why": why})
    # The retried jobs' letters, in one read of the queue's letters, not one per job.
    dispatcher: Any = request.app.state.dispatcher
    await dispatcher.retries.drop_letters(name, [r.job_id for r in retried])
    return RetriedLetters(retried=retried, left=left)


@router.post("/dead-letters/{queue}/{redis_id}/retry", status_code=202)
async def retry_one(queue: QueuePath, redis_id: MessageIdPath, request: Request) -> DispatchReceipt:
    """Retry one dead letter's job (as ``POST /jobs/{id}/retry``); the letter goes."""
    name = _queue(queue, ["path", "queue"])
    for letter in await _letters(request, name):
        if letter.redis_id == redis_id:
            return await _retry(request, name, letter)
    raise HTTPException(404, detail=_no_letter(redis_id))


@router.delete("/dead-letters/{queue}/{redis_id}", status_code=204)
async def purge(queue: QueuePath, redis_id: MessageIdPath, request: Request) -> Response:
    """Delete one dead letter for good (an undecodable message, say)."""
    name = _queue(queue, ["path", "queue"])
    dramatiq = request.app.state.dispatcher.dramatiq
    if not await asyncio.to_thread(dramatiq.remove_dead_letter, name, redis_id):
        raise HTTPException(404, detail=_no_letter(redis_id))
    return Response(status_code=204)


def _no_letter(redis_id: str) -> list[dict[str, object]]:
    msg = f"no dead letter {redis_id!r}"
    return [{"loc": ["path", "redis_id"], "msg": msg, "type": "not_found"}]
