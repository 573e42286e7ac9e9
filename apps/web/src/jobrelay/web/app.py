from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from jobrelay.dispatcher import (
    Dispatcher,
    DispatcherSettings,
    Reconciler,
    build_dispatcher,
)
from jobrelay.scheduler import ScheduleAdmin, Scheduler, ScheduleStore

from . import problems, queue_stats
from .routes import dead_letters, job_list, jobs, ops, queues, schedules
from .settings import WebSettings
from .ui import router as ui_router

logger = logging.getLogger("jobrelay.web")


def _direct_dispatcher() -> Dispatcher:
    # The web app is the proxy's target: it must never dispatch through a proxy itself.
    built = build_dispatcher(DispatcherSettings(use_dispatch_proxy=False, dispatch_proxy_url=None))
    assert isinstance(built, Dispatcher)
    return built


def create_app(
    *,
    dispatcher: Callable[[], Dispatcher] = _direct_dispatcher,
    settings: WebSettings | None = None,
) -> FastAPI:
    """The jobrelay HTTP API. Nothing connects until the app starts.

    ``dispatcher`` builds the Dispatcher at startup (from the environment by
    default); tests pass one wired to their own servers.
    """
    web = settings or WebSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if web.tracing:
            # Before the dispatcher connects: Temporal's client takes its tracing then.
            from jobrelay.engines.tracing import configure_tracing

            configure_tracing("jobrelay-web")
        built = dispatcher()
        # Both engines before the first request: Redis answers on first use,
        # Temporal's client (and its adapter's import) is made here.
        await built.connect()
        app.state.dispatcher = built
        app.state.api_token = built.settings.api_token
        stop = asyncio.Event()
        loop_task = None
        if web.run_reconciler:
            reconciler = Reconciler(
                built.store,
                built.temporal,
                lease_s=built.settings.start_lease_s,
                resume_grace_s=built.settings.pickup_deadline_s,
            )
            loop_task = asyncio.create_task(
                reconciler.run_forever(stop, interval_s=web.reconcile_interval_s)
            )
        app.state.schedules = ScheduleAdmin(
            built, ScheduleStore(built.store.client, built.store.keys)
        )
        scheduler = None
        if web.scheduler:
            scheduler = asyncio.create_task(
                Scheduler(
                    built, app.state.schedules.store, interval_s=web.scheduler_interval_s
                ).run_forever(stop)
            )
        sampler = None
        if web.stats_interval_s > 0:
            sampler = asyncio.create_task(
                queue_stats.sample_forever(built, stop, web.stats_interval_s)
            )
        try:
            yield
        finally:
            stop.set()
            if loop_task is not None:
                await loop_task
            if sampler is not None:
                await sampler
            if scheduler is not None:
                await scheduler
            await built.aclose()

    app = FastAPI(title="jobrelay", version="0.1.0", lifespan=lifespan)
    problems.install(app)
    # The error answers each router's routes can give, in the schema: clients
    # (and tests/web/test_schema_fuzz.py) check them against Problem.
    app.include_router(jobs.router, responses=problems.responses(401, 404, 409, 413, 503))
    app.include_router(job_list.router)
    app.include_router(schedules.router, responses=problems.responses(401, 404, 409, 503))
    app.include_router(ops.router)
    app.include_router(ui_router)
    app.include_router(queues.router, responses=problems.responses(401, 404, 503))
    app.include_router(dead_letters.router, responses=problems.responses(401, 404, 409, 503))
    return app
