from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from jobrelay.queue import QUEUES, RedisUnavailable, WorkerInfo
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import overview
from ..auth import require_token
from ..overview import EngineStates, Summary, engine_states
from ..params import WorkerIdPath
from ..problems import responses
from ..scrape import redis_metrics

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 while the app can dispatch somewhere; reports Redis and the breaker state."""
    dispatcher = request.app.state.dispatcher
    redis_ok = await dispatcher.health.ais_healthy()
    body = {
        "status": "ok",
        "redis": "up" if redis_ok else "down",
        "breaker": dispatcher.health.state.value,
        "use_dramatiq": dispatcher.settings.use_dramatiq,
    }
    return JSONResponse(body)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """200 while the process answers; asks nothing of Redis or Temporal."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": EngineStates}})
async def readyz(request: Request) -> JSONResponse:
    """200 while at least one engine can take a job now, else 503; each engine's state.

    Dramatiq can while ``USE_DRAMATIQ`` is on, Redis answers (the breaker
    closed) and some queue has a live worker; Temporal can while its server
    answers its health check.
    """
    states = await engine_states(request.app.state.dispatcher)
    ready = states.status == "ready"
    return JSONResponse(states.model_dump(), status_code=200 if ready else 503)


@router.get("/summary", dependencies=[Depends(require_token)], responses=responses(401, 503))
async def summary(request: Request) -> Summary:
    """Engines and breaker, live workers per engine, jobs by state, the last hour's dispatch
    reasons and the share that went to Temporal, and every queue."""
    try:
        return await overview.summary(request.app.state.dispatcher)
    except RedisUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from exc


@router.get("/workers")
async def workers(request: Request) -> dict[str, list[WorkerInfo]]:
    """Live workers per queue, from their heartbeats (empty lists when Redis is down)."""
    registry = request.app.state.dispatcher.workers.registry
    out: dict[str, list[WorkerInfo]] = {}
    for queue in QUEUES:
        try:
            out[queue] = await asyncio.to_thread(registry.live_workers, queue)
        except RedisUnavailable:
            out[queue] = []
    return out


@router.get("/workers/{worker_id}", responses=responses(404, 503))
async def worker(worker_id: WorkerIdPath, request: Request) -> WorkerInfo:
    """One worker's last heartbeat: engine, host, pid, queues, concurrency, counts, times.

    404 once it stopped or missed its heartbeat TTL; 503 while Redis does not answer.
    """
    registry = request.app.state.dispatcher.workers.registry
    try:
        found: WorkerInfo | None = await asyncio.to_thread(registry.get, worker_id)
    except RedisUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from exc
    if found is None:
        detail = [{"loc": ["path", "worker_id"], "msg": "no live worker", "type": "not_found"}]
        raise HTTPException(404, detail=detail)
    return found


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: this process's dispatches, and what Redis holds (queues' depth,
    jobs by state, outcomes per queue and engine, dead letters, live workers, pauses),
    read at the scrape and left out while Redis is down."""
    body = await asyncio.to_thread(generate_latest)
    with contextlib.suppress(RedisUnavailable):
        body += await asyncio.to_thread(redis_metrics, request.app.state.dispatcher)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
