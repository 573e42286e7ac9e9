"""Scheduler tests: a job that logs each run to a file, a dispatcher, a worker heartbeat."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from jobrelay.devservers import TemporalDevServer
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.job_engine import Schedule, discover_jobs
from jobrelay.queue import QueueSettings, RedisUnavailable, WorkerInfo, WorkerRegistry, redis_client
from jobrelay.scheduler import ScheduleStore

SUPPORT = Path(__file__).parent / "support"
JOB = "sched.record"


@pytest.fixture
def sched_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT))
    discover_jobs(["jobrelay_sched_testjobs"])


@pytest.fixture
def beating(queue_settings: QueueSettings) -> Iterator[None]:
    """A worker heartbeat for queue ``default`` every 0.5 s, as the worker app sends."""
    registry = WorkerRegistry.from_settings(redis_client(queue_settings), queue_settings)
    info = WorkerInfo(
        worker_id=uuid.uuid4().hex[:8],
        host=socket.gethostname(),
        pid=os.getpid(),
        queues=["default"],
        started_at=time.time(),
    )
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            with contextlib.suppress(RedisUnavailable):
                registry.heartbeat(info)
            stop.wait(0.5)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


def build(queue_settings: QueueSettings, temporal_address: str) -> Dispatcher:
    settings = DispatcherSettings(
        temporal_address=temporal_address,
        use_dispatch_proxy=False,
        dispatch_proxy_url=None,
        live_worker_cache_ms=0,
    )
    built = build_dispatcher(settings, queue_settings)
    assert isinstance(built, Dispatcher)
    return built


@pytest.fixture
async def dispatcher(
    queue_settings: QueueSettings, temporal_server: TemporalDevServer
) -> AsyncIterator[Dispatcher]:
    built = build(queue_settings, temporal_server.address)
    await built.connect()
    yield built
    await built.aclose()


@pytest.fixture
def schedule_store(queue_settings: QueueSettings) -> ScheduleStore:
    return ScheduleStore(redis_client(queue_settings), queue_settings.keys)


def runtime_schedule(store: ScheduleStore, schedule_id: str, log: Path, **kw: Any) -> Schedule:
    """Store a run-time schedule of the logging job, writing to ``log``."""
    payload = {"log": str(log), **kw.pop("payload", {})}
    schedule = Schedule(id=schedule_id, job=JOB, payload=payload, **kw)
    assert store.put(schedule, create=True)
    return schedule


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def runs_per_tick(path: Path) -> dict[float, int]:
    counts: dict[float, int] = {}
    for line in read_log(path):
        counts[line["tick"]] = counts.get(line["tick"], 0) + 1
    return counts
