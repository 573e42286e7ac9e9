"""Session-wide real servers; each test gets its own key prefix and task queues."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.queue import JobStore, QueueSettings, redis_client
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
    """A Redis of this test's own, for tests that stop or restart it."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


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
