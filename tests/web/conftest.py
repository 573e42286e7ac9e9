"""A real Dispatcher on the session's Redis and Temporal, served by the FastAPI app."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import QueueSettings
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


SUPPORT = Path(__file__).parent / "support"


@pytest.fixture
def gated_job(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> ModuleType:
    """``web.gated``: fails until the test sets ``{key}:ok`` in Redis (no retries)."""
    monkeypatch.setenv("WEB_TEST_REDIS_URL", redis_server.url)
    monkeypatch.syspath_prepend(str(SUPPORT))
    discover_jobs(["jobrelay_web_testjobs"])
    return sys.modules["jobrelay_web_testjobs"]


@pytest.fixture
def web_url(queue_settings: QueueSettings, temporal_server: TemporalDevServer) -> Iterator[str]:
    """The web app served over real HTTP (uvicorn in a thread), as the CLI reaches it."""
    import threading
    import time as _time

    import uvicorn
    from jobrelay.devservers import free_port
    from jobrelay.web import WebSettings, create_app

    app = create_app(
        dispatcher=make_dispatcher(queue_settings, temporal_server.address),
        settings=WebSettings(run_reconciler=False),
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = _time.monotonic() + 30
    while not server.started:
        assert _time.monotonic() < deadline, "the web app never started"
        _time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)
