"""A Temporal client per test and a factory of in-process workers on the test's task queues."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import redis
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.engines.temporal import TemporalAdapter, TemporalUnavailable, connect
from jobrelay.engines.temporal.worker import make_worker
from jobrelay.queue import JobStore, QueueSettings
from jobrelay.queue.codec import text
from temporalio.client import Client
from temporalio.worker import Worker

# The test jobs live in a plain module on sys.path, importable by name from the
# workflow sandbox and the activities, like a user's job package.
SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

JOBS_MODULE = "temporal_adapter_test_jobs"

from temporal_adapter_support import StartWorker  # noqa: E402 - needs the sys.path entry


@pytest.fixture
async def client(temporal_server: TemporalDevServer) -> Client:
    # A loaded machine can leave the dev server slow to take a new connection:
    # a few tries, so one slow accept does not fail the test's setup.
    for attempt in range(3):
        try:
            return await connect(temporal_server.address)
        except TemporalUnavailable:
            if attempt == 2:
                raise
            await asyncio.sleep(1 + attempt)
    raise AssertionError("unreachable")


@pytest.fixture
def adapter(client: Client, queue_settings: QueueSettings) -> TemporalAdapter:
    return TemporalAdapter(client, queue_settings)


@pytest.fixture
async def start_worker(client: Client) -> AsyncIterator[StartWorker]:
    """``await start_worker(settings, store, queue="default")``: a worker until the test ends."""
    async with AsyncExitStack() as stack:

        async def start(
            settings: QueueSettings,
            store: JobStore | None,
            queue: str = "default",
            **options: Any,
        ) -> Worker:
            worker = make_worker(
                client, settings, queue, store=store, job_modules=[JOBS_MODULE], **options
            )
            return await stack.enter_async_context(worker)

        yield start


@pytest.fixture
def probe(redis_server: RedisServer, prefix: str) -> dict[str, str]:
    """Payload of the test jobs: where their steps count side effects."""
    return {"redis_url": redis_server.url, "key": f"{prefix}effects:{uuid.uuid4().hex[:8]}"}


@pytest.fixture
def effects(
    redis_server: RedisServer, probe: dict[str, str]
) -> Iterator[Callable[[], dict[str, int]]]:
    """Reads how often each step ran."""
    client = redis.Redis.from_url(redis_server.url)

    def read() -> dict[str, int]:
        return {text(k): int(v) for k, v in client.hgetall(probe["key"]).items()}

    yield read
    client.close()
