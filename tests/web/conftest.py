"""A real Dispatcher on the session's Redis and Temporal, served by the FastAPI app."""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import JobStore, QueueSettings, WorkerInfo, WorkerRegistry, redis_client
from jobrelay.web import WebSettings, create_app


def make_dispatcher(
    queue_settings: QueueSettings, temporal_address: str, **overrides: object
) -> Callable[[], Dispatcher]:
    def build() -> Dispatcher:
        settings = DispatcherSettings(
            temporal_address=temporal_address,
            use_dispatch_proxy=False,
            dispatch_proxy_url=None,
            live_worker_cache_ms=0,
            **overrides,  # type: ignore[arg-type]
        )
        built = build_dispatcher(settings, queue_settings)
        assert isinstance(built, Dispatcher)
        return built

    return build


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, behind an in-process HTTP client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://jobrelay") as client:
            yield client


@pytest.fixture
async def web_client(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address),
        settings=WebSettings(run_reconciler=False),
    )
    async with serve(app) as client:
        yield client


@pytest.fixture
def live_worker(queue_settings: QueueSettings) -> Callable[[str], None]:
    """Announce a worker for a queue, as the worker app's heartbeat does."""

    def beat(queue: str) -> None:
        WorkerRegistry.from_settings(redis_client(queue_settings), queue_settings).heartbeat(
            WorkerInfo(
                worker_id=uuid.uuid4().hex[:8],
                host=socket.gethostname(),
                pid=os.getpid(),
                queues=[queue],
                started_at=time.time(),
            )
        )

    return beat


@pytest.fixture
def dramatiq_worker(queue_settings: QueueSettings) -> Iterator[None]:
    """A Dramatiq worker in this process for queue ``default`` (2 threads)."""
    client = redis_client(queue_settings)
    adapter = DramatiqAdapter(
        make_broker(queue_settings, client=client),
        JobStore.from_settings(client, queue_settings),
        queue_settings,
    )
    worker = start_worker(adapter, ["default"], threads=2)
    try:
        yield
    finally:
        worker.stop()


SUPPORT = Path(__file__).parent / "support"


@pytest.fixture
def gated_job(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> ModuleType:
    """``web.gated``: fails until the test sets ``{key}:ok`` in Redis (no retries)."""
    monkeypatch.setenv("WEB_TEST_REDIS_URL", redis_server.url)
    monkeypatch.syspath_prepend(str(SUPPORT))
    discover_jobs(["jobrelay_web_testjobs"])
    return sys.modules["jobrelay_web_testjobs"]
