from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
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


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics of this process: dispatches by queue, engine and reason."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
