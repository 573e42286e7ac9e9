"""The web app's event loop keeps serving while Redis is blackholed."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.queue import AsyncRedis, QueueSettings, RedisCall, redis_client
from jobrelay.web import WebSettings, create_app

from .conftest import make_dispatcher, serve


async def test_requests_during_a_redis_blackhole_wait_together_and_the_loop_keeps_running(
    own_redis: RedisServer,
    temporal_server: TemporalDevServer,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix, read_timeout_ms=1000)
    app = create_app(
        dispatcher=make_dispatcher(settings, temporal_server.address),
        settings=WebSettings(run_reconciler=False),
    )
    # Requests waiting on Redis right now, and the most there were at once.
    waiting = peak = 0
    aio = AsyncRedis.for_client(redis_client(settings))
    run = aio.run

    async def watched(call: RedisCall[Any]) -> Any:
        nonlocal waiting, peak
        waiting += 1
        peak = max(peak, waiting)
        try:
            return await run(call)
        finally:
            waiting -= 1

    monkeypatch.setattr(aio, "run", watched)
    ticks = 0  # probe turns taken while some request waited on Redis

    async def probe() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            if waiting:
                ticks += 1

    async with serve(app) as client:
        assert (await client.get("/health")).json()["redis"] == "up"
        os.kill(own_redis.pid, signal.SIGSTOP)
        prober = asyncio.create_task(probe())
        try:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/jobs",
                        json={"name": "demo.countdown", "payload": {}, "job_id": f"{prefix}{i}"},
                    )
                    for i in range(100)
                )
            )
        finally:
            os.kill(own_redis.pid, signal.SIGCONT)
            prober.cancel()
    # Every request got its job taken, by Temporal since Redis did not answer...
    assert [r.status_code for r in responses] == [202] * 100
    assert {(r.json()["engine"], r.json()["reason"]) for r in responses} == {
        ("temporal", "redis_unavailable")
    }
    # ...they waited on Redis together, not one timeout after another (one
    # at a time, the breaker would have opened after its threshold of
    # failures and no more would have reached Redis)...
    assert peak > settings.breaker_failure_threshold
    # ...and while they waited the loop ran other work. (A request blocking
    # the loop on Redis holds it, this probe included, for the whole wait.)
    assert ticks > 0
