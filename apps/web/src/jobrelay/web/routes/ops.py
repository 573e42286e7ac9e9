from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from jobrelay.queue import QUEUES, RedisUnavailable, WorkerInfo
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from ..params import WorkerIdPath
from ..problems import responses
from ..queue_stats import read_queues

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
    """Prometheus metrics: this process's dispatches, and each queue's depth, dead letters,
    live workers and pause, read from Redis at the scrape (left out while it is down)."""
    body = await asyncio.to_thread(generate_latest)
    try:
        views = await asyncio.to_thread(read_queues, request.app.state.dispatcher, list(QUEUES))
    except RedisUnavailable:
        return Response(body, media_type=CONTENT_TYPE_LATEST)
    registry = CollectorRegistry()
    messages = Gauge(
        "jobrelay_queue_messages",
        "Dramatiq messages of a queue by kind (ready, delayed, dead).",
        ["queue", "kind"],
        registry=registry,
    )
    workers = Gauge(
        "jobrelay_queue_live_workers",
        "Workers of a queue that beat within the heartbeat TTL, by engine.",
        ["queue", "engine"],
        registry=registry,
    )
    paused = Gauge(
        "jobrelay_queue_paused",
        "1 while an operator paused the queue.",
        ["queue"],
        registry=registry,
    )
    for view in views:
        for kind in ("ready", "delayed", "dead"):
            messages.labels(view.name, kind).set(getattr(view, kind))
        for engine, count in view.live_workers.items():
            workers.labels(view.name, engine).set(count)
        paused.labels(view.name).set(1 if view.paused else 0)
    return Response(body + generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
