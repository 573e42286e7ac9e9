"""Flow-control fixtures: the test jobs and the spans their steps record."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis
from jobrelay.devservers import RedisServer
from jobrelay.job_engine import discover_jobs

SUPPORT = Path(__file__).parent / "support"
# The jobs and helpers import by name, as a user's job package would.
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

from flow_test_support import TESTJOBS, Spans  # noqa: E402 - needs the sys.path entry


@pytest.fixture
def flowjobs(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> ModuleType:
    monkeypatch.setenv("FLOWT_REDIS_URL", redis_server.url)
    discover_jobs([TESTJOBS])
    return sys.modules[TESTJOBS]


@pytest.fixture
def run_id() -> str:
    """Where this test's jobs record their spans."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def spans(redis_server: RedisServer, run_id: str) -> Iterator[Spans]:
    client = redis.Redis.from_url(redis_server.url)
    yield Spans(client, run_id)
    client.close()
