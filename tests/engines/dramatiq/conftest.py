"""A real Redis, a real Dramatiq broker and in-process workers for each test."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq
import pytest
import redis
from jobrelay.devservers import RedisServer
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.job_engine import discover_jobs, get_job
from jobrelay.queue import JobRecord, JobState, JobStore, QueueSettings
from jobrelay.queue.codec import text

SUPPORT = Path(__file__).parent / "support"
TESTJOBS = "jobrelay_dramatiq_testjobs"


class Clock:
    """Wall time plus a shift the test controls: an hour passes when the test says so."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def testjobs(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> ModuleType:
    monkeypatch.setenv("DTEST_REDIS_URL", redis_server.url)
    monkeypatch.syspath_prepend(str(SUPPORT))
    discover_jobs([TESTJOBS])
    return sys.modules[TESTJOBS]


@pytest.fixture
def adapter(queue_settings: QueueSettings, store: JobStore, clock: Clock) -> DramatiqAdapter:
    return DramatiqAdapter(make_broker(queue_settings), store, queue_settings, clock=clock)


@pytest.fixture
def workers() -> Iterator[Callable[..., dramatiq.Worker]]:
    started: list[dramatiq.Worker] = []

    def start(
        adapter: DramatiqAdapter, queues: Sequence[str] | None = None, threads: int = 2
    ) -> dramatiq.Worker:
        worker = start_worker(adapter, queues, threads=threads)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(timeout=10_000)


@pytest.fixture
def submit(store: JobStore, adapter: DramatiqAdapter) -> Callable[..., str]:
    """Do what the dispatcher does: create the record, then enqueue."""

    def submit(
        name: str,
        payload: dict[str, Any] | None = None,
        *,
        job_id: str | None = None,
        delay_s: float | None = None,
    ) -> str:
        job_id = job_id or uuid.uuid4().hex
        definition = get_job(name)
        data = definition.dump_payload(payload or {})
        record = JobRecord(
            job_id=job_id, name=name, queue=definition.queue, payload=json.dumps(data)
        )
        assert store.create(record)
        adapter.enqueue(
            EngineJob(job_id=job_id, name=name, queue=definition.queue, payload=data),
            delay_s=delay_s,
        )
        return job_id

    return submit


@pytest.fixture
def wait_for(store: JobStore) -> Callable[..., JobRecord]:
    def wait_for(job_id: str, *states: JobState, timeout: float = 30.0) -> JobRecord:
        deadline = time.monotonic() + timeout
        record = None
        while time.monotonic() < deadline:
            record = store.get(job_id)
            if record is not None and record.state in states:
                return record
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} never reached {states}; last record: {record}")

    return wait_for


@pytest.fixture
def counts(redis_server: RedisServer) -> Callable[[str], dict[str, int]]:
    client = redis.Redis.from_url(redis_server.url)

    def counts(job_id: str) -> dict[str, int]:
        prefix = f"dtest:{job_id}:"
        out: dict[str, int] = {}
        for raw in client.keys(f"{prefix}*"):
            name = text(raw)[len(prefix) :]
            value = client.get(raw)
            if value is not None and value.isdigit():
                out[name] = int(value)
        return out

    return counts


def eventually(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll ``check`` until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or check}")


@pytest.fixture
def until() -> Callable[..., None]:
    return eventually
