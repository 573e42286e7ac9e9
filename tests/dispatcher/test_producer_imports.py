"""A producer loads no worker code of either engine.

A fresh process builds the default dispatcher and dispatches once to
Dramatiq, or once to Temporal; then no module of jobrelay's worker side for
either engine is loaded, and nothing of ``temporalio.worker``. (``dramatiq``
itself imports its ``Worker`` class from its package root, so that module is
not counted: jobrelay's own Dramatiq worker side is.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.queue import QueueSettings, WorkerInfo, WorkerRegistry, redis_client

PRODUCER = """
import json, sys, uuid
from jobrelay.dispatcher import build_dispatcher, dispatch_job_sync, set_default_dispatcher
set_default_dispatcher(build_dispatcher())
before = set(sys.modules)
receipt = dispatch_job_sync("demo.countdown", {"start": 1}, job_id=uuid.uuid4().hex)
print(json.dumps({
    "engine": receipt.engine,
    "modules": sorted(sys.modules),
    "imported_by_dispatch": sorted(set(sys.modules) - before),
}))
"""

# jobrelay's worker side of each engine: everything under these packages.
WORKER_SIDE = ("jobrelay.engines.temporal.worker", "jobrelay.engines.dramatiq.worker")


def _worker_side(modules: list[str]) -> list[str]:
    return [
        m
        for m in modules
        if m.startswith("temporalio.worker")
        or any(m == package or m.startswith(f"{package}.") for package in WORKER_SIDE)
    ]


@pytest.mark.parametrize("engine", ["dramatiq", "temporal"])
def test_a_dispatch_imports_no_worker_code(
    redis_server: RedisServer,
    temporal_server: TemporalDevServer,
    queue_settings: QueueSettings,
    prefix: str,
    engine: str,
) -> None:
    if engine == "dramatiq":
        # The dispatcher sends to Dramatiq only while a worker is live for the queue.
        WorkerRegistry.from_settings(redis_client(queue_settings), queue_settings).heartbeat(
            WorkerInfo(
                worker_id=uuid.uuid4().hex[:8],
                host=socket.gethostname(),
                pid=os.getpid(),
                queues=["default"],
                started_at=time.time(),
            )
        )
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "JOBRELAY_PREFIX": prefix,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "USE_DRAMATIQ": "true" if engine == "dramatiq" else "false",
    }
    out = subprocess.run(
        [sys.executable, "-c", PRODUCER], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    assert seen["engine"] == engine
    assert _worker_side(seen["modules"]) == []
    # The engine's client comes with the dispatcher: importing it on the first
    # dispatch would block the caller's event loop for a quarter of a second.
    late = [
        m
        for m in seen["imported_by_dispatch"]
        if m.split(".")[0] in ("temporalio", "google", "dramatiq", "redis", "jobrelay")
    ]
    assert late == []


def test_the_worker_side_packages_named_here_hold_the_worker_code() -> None:
    # A worker side moved elsewhere would make the check above pass vacuously.
    expected = {
        "jobrelay.engines.temporal.worker": ["workflow", "activities", "sandbox", "factory"],
        "jobrelay.engines.dramatiq.worker": ["runner", "consumer", "context", "start", "drain"],
    }
    assert sorted(expected) == sorted(WORKER_SIDE)
    for package, names in expected.items():
        for name in names:
            assert importlib.util.find_spec(f"{package}.{name}") is not None, f"{package}.{name}"
