"""Dispatcher fixtures: test jobs, in-memory engines over a real Redis, worker heartbeats."""

from __future__ import annotations

import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis
from jobrelay.devservers import RedisServer
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, LiveWorkers
from jobrelay.dispatcher.testing import MemoryDramatiq, MemoryTemporal
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import JobStore, QueueSettings, RedisHealth, WorkerInfo, WorkerRegistry

SUPPORT = Path(__file__).parent / "support"
TESTJOBS = "jobrelay_dispatch_testjobs"


@pytest.fixture
def testjobs(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> ModuleType:
    monkeypatch.setenv("DSP_REDIS_URL", redis_server.url)
    monkeypatch.syspath_prepend(str(SUPPORT))
    discover_jobs([TESTJOBS])
    return sys.modules[TESTJOBS]


@pytest.fixture
def runs(redis_server: RedisServer) -> Iterator[Callable[[str], list[str]]]:
    """Engines that ran each job's step, in order (one entry per execution)."""
    client = redis.Redis.from_url(redis_server.url)

    def runs(job_id: str) -> list[str]:
        return [r.decode() for r in client.lrange(f"dsp:{job_id}:runs", 0, -1)]

    yield runs
    client.close()


@pytest.fixture
def dsettings() -> DispatcherSettings:
    return DispatcherSettings(
        pickup_timeout_ms=300, pickup_deadline_s=5, live_worker_cache_ms=0, start_lease_s=5
    )


@pytest.fixture
def registry(redis_conn: redis.Redis, queue_settings: QueueSettings) -> WorkerRegistry:
    return WorkerRegistry.from_settings(redis_conn, queue_settings)


@pytest.fixture
def heartbeat(registry: WorkerRegistry) -> Callable[..., str]:
    """Register a live worker for the given queues (a heartbeat, as a worker sends)."""

    def beat(*queues: str) -> str:
        worker_id = uuid.uuid4().hex[:8]
        registry.heartbeat(
            WorkerInfo(
                worker_id=worker_id,
                host=socket.gethostname(),
                pid=0,
                queues=list(queues or ("default",)),
                started_at=time.time(),
            )
        )
        return worker_id

    return beat


@pytest.fixture
def mem_dramatiq() -> MemoryDramatiq:
    return MemoryDramatiq()


@pytest.fixture
def mem_temporal() -> MemoryTemporal:
    return MemoryTemporal()


@pytest.fixture
def health(redis_conn: redis.Redis, queue_settings: QueueSettings) -> RedisHealth:
    return RedisHealth.from_settings(redis_conn, queue_settings)


@pytest.fixture
def mem_dispatcher(
    testjobs: ModuleType,
    dsettings: DispatcherSettings,
    store: JobStore,
    health: RedisHealth,
    registry: WorkerRegistry,
    mem_dramatiq: MemoryDramatiq,
    mem_temporal: MemoryTemporal,
) -> Dispatcher:
    return Dispatcher(
        dsettings,
        store=store,
        health=health,
        workers=LiveWorkers(registry, cache_s=0),
        dramatiq=mem_dramatiq,
        temporal=mem_temporal,
    )
