"""``JOBRELAY_LOG_FORMAT=json``: a real worker writes one JSON object per log line."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Callable
from functools import partial

from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import JobStore, WorkerRegistry

from .conftest import WorkerProc, finished, live_worker, wait_for


async def test_the_worker_logs_json_lines_that_name_the_job(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    store: JobStore,
) -> None:
    worker = spawn(["run", "--queue", "default"], worker_env | {"JOBRELAY_LOG_FORMAT": "json"})
    wait_for(partial(live_worker, registry, "default", worker), 60, "the worker's heartbeat")
    # Fails on both attempts: a warning, then the error that gives up.
    receipt = await dispatcher.dispatch("wrk.refuser", {"key": f"wrk:{uuid.uuid4().hex[:8]}"})
    wait_for(partial(finished, store, receipt.job_id), 60, "the job to end")
    worker.send(signal.SIGTERM)
    assert worker.wait(60) == 0
    lines = [line for line in worker.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"ts", "level", "logger", "message"} <= set(records[0])
    about = [r for r in records if r.get("job_id") == receipt.job_id]
    assert {(r["level"], r["queue"], r["engine"]) for r in about} == {
        ("WARNING", "default", "dramatiq"),
        ("ERROR", "default", "dramatiq"),
    }
