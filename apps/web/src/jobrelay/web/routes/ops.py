from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from jobrelay.queue import QUEUES, RedisUnavailable, WorkerInfo
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

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


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 while at least one engine can take a job now, else 503; each engine's state.

    Dramatiq can while ``USE_DRAMATIQ`` is on, Redis answers (the breaker
    closed) and some queue has a live worker; Temporal can while its server
    answers its health check.
    """
    dispatcher = request.app.state.dispatcher
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
        temporal_ok = await (await dispatcher.temporal.get()).healthy()
    except Exception:
        temporal_ok = False  # not connected, and could not connect now
    body = {
        "status": "ready" if dramatiq_ok or temporal_ok else "unavailable",
        "dramatiq": {
            "ready": dramatiq_ok,
            "use_dramatiq": dispatcher.settings.use_dramatiq,
            "redis": "up" if redis_ok else "down",
            "breaker": dispatcher.health.state.value,
            "live_workers": live,
        },
        "temporal": {"ready": temporal_ok},
    }
    return JSONResponse(body, status_code=200 if dramatiq_ok or temporal_ok else 503)


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


@router.get("/workers/{worker_id}")
async def worker(worker_id: str, request: Request) -> WorkerInfo:
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
async def metrics() -> Response:
    """Prometheus metrics of this process: dispatches by queue, engine and reason."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
