"""Dispatcher fixtures: test jobs, in-memory engines over a real Redis, worker heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq
import pytest
import redis
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, LiveWorkers
from jobrelay.dispatcher.fast_enqueue import DramatiqMessages
from jobrelay.dispatcher.testing import MemoryDramatiq, MemoryTemporal
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.engines.temporal import JobOutcome, TemporalAdapter, connect
from jobrelay.engines.temporal.worker import make_worker
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import (
    AsyncRedis,
    JobStore,
    QueueSettings,
    RedisCall,
    RedisHealth,
    RedisUnavailable,
    WorkerInfo,
    WorkerRegistry,
    redis_client,
)
from jobrelay.queue.codec import text
from temporalio.client import Client
from temporalio.worker import Worker as TemporalWorker

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
        return [text(r) for r in client.lrange(f"dsp:{job_id}:runs", 0, -1)]

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
def count_redis_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[None]]:
    """Counts the Redis calls made to a client's server from now on, one entry each,
    answered or not: the round trips of its ``AsyncRedis`` (a dispatcher's, from the
    event loop) and each connection taken from its blocking pool (commands,
    scripts, pipelines); with ``this_thread_only``, blocking calls of other threads
    are left out."""

    def count(client: redis.Redis, *, this_thread_only: bool = False) -> list[None]:
        calls: list[None] = []
        pool = client.connection_pool
        get_connection = pool.get_connection
        aio = AsyncRedis.for_client(client)
        run = aio.run
        here = threading.get_ident()

        def counted(*args: Any, **kwargs: Any) -> Any:
            if not this_thread_only or threading.get_ident() == here:
                calls.append(None)
            return get_connection(*args, **kwargs)

        async def counted_run(call: RedisCall[Any]) -> Any:
            calls.append(None)
            return await run(call)

        monkeypatch.setattr(pool, "get_connection", counted)
        monkeypatch.setattr(aio, "run", counted_run)
        return calls

    return count


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


# -- real engines ---------------------------------------------------------------


class Stack:
    """Real Redis, Dramatiq and Temporal for one test: adapters, workers, dispatchers.

    The Dramatiq worker is ``start_worker`` in this process plus the heartbeat
    a worker app sends; the Temporal worker is ``make_worker`` on this loop.
    """

    def __init__(
        self, queue_settings: QueueSettings, temporal_client: Client, settings: DispatcherSettings
    ) -> None:
        self.queue_settings = queue_settings
        self.settings = settings
        self.client = redis_client(queue_settings)
        self.store = JobStore.from_settings(self.client, queue_settings)
        # Naps up to 30 s wait in the worker: no wake-up pump runs here, and a
        # test cancelling during a nap needs a nap that outlasts a loaded machine.
        self.adapter = DramatiqAdapter(
            make_broker(queue_settings), self.store, queue_settings, sleep_threshold_s=30.0
        )
        self.temporal_client = temporal_client
        self.temporal = TemporalAdapter(temporal_client, queue_settings)
        self.registry = WorkerRegistry.from_settings(self.client, queue_settings)
        self.health = RedisHealth.from_settings(self.client, queue_settings)
        self._dramatiq: list[dramatiq.Worker] = []
        self._temporal: list[tuple[TemporalWorker, asyncio.Task[None]]] = []
        self._beating = threading.Event()
        self._beat_thread: threading.Thread | None = None

    def dispatcher(
        self, settings: DispatcherSettings | None = None, *, fast: bool = True, **parts: Any
    ) -> Dispatcher:
        options: dict[str, Any] = {
            "store": self.store,
            "health": self.health,
            "workers": LiveWorkers(self.registry, cache_s=0.2),
            "dramatiq": self.adapter,
            "temporal": self.temporal,
            "messages": DramatiqMessages(self.adapter) if fast else None,
        }
        options.update(parts)
        return Dispatcher(settings or self.settings, **options)

    def start_dramatiq(self, threads: int = 4, *, heartbeat: bool = True) -> dramatiq.Worker:
        worker = start_worker(self.adapter, ["default"], threads=threads)
        self._dramatiq.append(worker)
        if heartbeat:
            self.start_heartbeat()
        return worker

    def start_heartbeat(self) -> None:
        """Beat for queue ``default`` every 0.3 s, as a worker app does, until close()."""
        if self._beat_thread is not None:
            return
        info = WorkerInfo(
            worker_id=uuid.uuid4().hex[:8],
            host=socket.gethostname(),
            pid=os.getpid(),
            queues=["default"],
            started_at=time.time(),
        )

        def beat() -> None:
            while not self._beating.is_set():
                # Any Redis error: a beat that outlives its test's servers (a
                # sentinel discovery can outlast the join below) may meet a
                # stranger on a reused port; it must not fail a later test.
                with contextlib.suppress(RedisUnavailable, redis.RedisError):
                    self.registry.heartbeat(info)
                self._beating.wait(0.3)

        self._beat_thread = threading.Thread(target=beat, daemon=True)
        self._beat_thread.start()
        deadline = time.monotonic() + 30
        while self.registry.live_count("default") == 0:
            # A heartbeat never seen would send the next dispatch to Temporal.
            assert time.monotonic() < deadline, "the test worker's heartbeat never registered"
            time.sleep(0.01)

    def stop_dramatiq(self) -> None:
        self._beating.set()
        if self._beat_thread is not None:
            self._beat_thread.join(5)
            self._beat_thread = None
        self._beating.clear()
        for worker in self._dramatiq:
            worker.stop(timeout=10_000)
        self._dramatiq.clear()

    async def start_temporal(self) -> TemporalWorker:
        worker = make_worker(
            self.temporal_client,
            self.queue_settings,
            "default",
            store=self.store,
            job_modules=[TESTJOBS],
        )
        task = asyncio.create_task(worker.run())
        self._temporal.append((worker, task))
        return worker

    async def stop_temporal(self) -> None:
        for worker, task in self._temporal:
            await worker.shutdown()
            await task
        self._temporal.clear()

    async def close(self) -> None:
        self.stop_dramatiq()
        await self.stop_temporal()

    async def outcome(self, job_id: str, within_s: float = 30.0) -> JobOutcome:
        """The workflow's result (waits for it)."""
        handle = self.temporal_client.get_workflow_handle(job_id, result_type=JobOutcome)
        return await asyncio.wait_for(handle.result(), within_s)

    async def wait_finished(self, *job_ids: str, within_s: float = 60.0) -> None:
        """Until every job's record is in a finished state."""
        pending = set(job_ids)
        deadline = time.monotonic() + within_s
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                record = self.store.get(job_id)
                if record is not None and record.state.finished:
                    pending.discard(job_id)
            if pending:
                await asyncio.sleep(0.05)
        assert not pending, f"{len(pending)} jobs never finished, e.g. {sorted(pending)[:5]}"

    async def drained(self, within_s: float = 10.0) -> None:
        """Until the Dramatiq queue ``default`` holds no message, fetched or not."""
        for _ in range(int(within_s / 0.05)):
            if self.queued_messages() == 0:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.queued_messages()} messages still queued")

    def queued_messages(self) -> int:
        """Messages still in the Dramatiq queue ``default`` (queued or unacked)."""
        return int(self.adapter.broker.do_qsize("default"))


@pytest.fixture
async def temporal_client(temporal_server: TemporalDevServer) -> Client:
    return await connect(temporal_server.address)


@pytest.fixture
async def make_stack(
    testjobs: ModuleType, temporal_client: Client, dsettings: DispatcherSettings
) -> AsyncIterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(queue_settings: QueueSettings, settings: DispatcherSettings | None = None) -> Stack:
        stack = Stack(queue_settings, temporal_client, settings or dsettings)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        await stack.close()


@pytest.fixture
def stack(make_stack: Callable[..., Stack], queue_settings: QueueSettings) -> Stack:
    return make_stack(queue_settings)
