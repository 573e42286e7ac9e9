"""A producer that dispatches to Temporal loads none of Temporal's worker side."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from jobrelay.devservers import RedisServer, TemporalDevServer

PRODUCER = """
import json, sys, uuid
from jobrelay.dispatcher import build_dispatcher, dispatch_job_sync, set_default_dispatcher
set_default_dispatcher(build_dispatcher())
receipt = dispatch_job_sync("demo.countdown", {"start": 1}, job_id=uuid.uuid4().hex)
worker_side = sorted(
    m for m in sys.modules
    if m.startswith("temporalio.worker")
    or m.startswith("jobrelay.dispatcher.adapters.temporal.")
    and m.rsplit(".", 1)[1] in {"worker", "workflow", "activities", "sandbox", "context"}
)
print(json.dumps({"engine": receipt.engine, "worker_side": worker_side}))
"""


def test_a_dispatch_to_temporal_imports_no_temporal_worker_code(
    redis_server: RedisServer, temporal_server: TemporalDevServer, prefix: str
) -> None:
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "JOBRELAY_PREFIX": prefix,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "USE_DRAMATIQ": "false",
    }
    out = subprocess.run(
        [sys.executable, "-c", PRODUCER], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    assert seen["engine"] == "temporal"
    assert seen["worker_side"] == []
