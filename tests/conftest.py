"""Session-wide real servers; each test gets its own key prefix and task queues."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from jobrelay.devservers import RedisSentinel, RedisServer, TemporalDevServer
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.queue import JobStore, QueueSettings, WorkerInfo, WorkerRegistry, redis_client
from temporalio.client import Client

# Test-only helpers (store_peek) import by name, like the job modules' support dirs.
SUPPORT = Path(__file__).resolve().parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[TemporalDevServer]:
    with TemporalDevServer() as server:
        _wait_until_serving(server.address)
        yield server


def _wait_until_serving(address: str, timeout_s: float = 60.0) -> None:
    """Block until the dev server takes clients.

    Its port opens before its frontend is healthy; on a loaded machine a
    test's first connect then fails ("Frontend is not healthy yet").
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            asyncio.run(Client.connect(address))
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, for tests that stop, restart or freeze it (SIGSTOP:
    it accepts, never answers); thawed before it is stopped."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        if server.running():
            os.kill(server.pid, signal.SIGCONT)
        server.stop()


class SentinelSet:
    """A Redis master, one replica of it, and three sentinels watching them."""

    MASTER = "jobrelay"

    def __init__(self) -> None:
        self.master = RedisServer().start()
        self.replica = RedisServer(replica_of=self.master.port).start()
        self.sentinels = [
            RedisSentinel(self.master.port, master_name=self.MASTER).start() for _ in range(3)
        ]

    @property
    def addresses(self) -> str:
        return ",".join(s.address for s in self.sentinels)

    def settings(self, prefix: str, **extra: Any) -> QueueSettings:
        return QueueSettings(
            redis_url="redis://ignored:6379/0",
            prefix=prefix,
            redis_sentinels=self.addresses,
            redis_sentinel_master=self.MASTER,
            **extra,
        )

    def master_port(self) -> int | None:
        """The master's port as the first sentinel that answers names it."""
        for sentinel in self.sentinels:
            try:
                with redis.Redis(host="127.0.0.1", port=sentinel.port, socket_timeout=1) as client:
                    answer = client.sentinel_get_master_addr_by_name(self.MASTER)
            except redis.RedisError:
                continue
            if answer:
                return int(answer[1])
        return None

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until the replica is in sync and every sentinel knows it: a failover can happen."""
        deadline = time.monotonic() + timeout_s
        with redis.Redis(host="127.0.0.1", port=self.replica.port) as replica:
            while replica.info("replication").get("master_link_status") != "up":
                assert time.monotonic() < deadline, "the replica never synced"
                time.sleep(0.1)
        for sentinel in self.sentinels:
            with redis.Redis(host="127.0.0.1", port=sentinel.port) as client:
                while not client.sentinel_slaves(self.MASTER):
                    assert time.monotonic() < deadline, "a sentinel never saw the replica"
                    time.sleep(0.1)

    def fail_master(self, timeout_s: float = 60.0) -> None:
        """kill -9 the master; returns once the sentinels name the replica master."""
        self.master.kill()
        deadline = time.monotonic() + timeout_s
        while self.master_port() != self.replica.port:
            assert time.monotonic() < deadline, "the sentinels never promoted the replica"
            time.sleep(0.1)

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        if self.master.running():
            self.master.stop()


@pytest.fixture
def sentinel_set() -> Iterator[SentinelSet]:
    """A master, a replica and three sentinels of this test's own (the master may be killed)."""
    servers = SentinelSet()
    try:
        servers.wait_ready()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def queue_settings(redis_server: RedisServer, prefix: str) -> QueueSettings:
    return QueueSettings(redis_url=redis_server.url, prefix=prefix)


@pytest.fixture
def redis_conn(queue_settings: QueueSettings) -> redis.Redis:
    return redis_client(queue_settings)


@pytest.fixture
def store(redis_conn: redis.Redis, queue_settings: QueueSettings) -> JobStore:
    return JobStore.from_settings(redis_conn, queue_settings)


# Dispatcher-level fixtures of the web and scheduler tests: a live-worker
# heartbeat and a Dramatiq worker in this process.


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
