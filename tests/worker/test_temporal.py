"""``jobrelay-worker temporal``: fallback jobs end to end; SIGTERM drains."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable

import httpx
import pytest
import redis
from jobrelay.devservers import TemporalDevServer, free_port
from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import ENGINE_TEMPORAL, JobStore, QueueSettings, WorkerRegistry
from prometheus_client.parser import text_string_to_metric_families

from .conftest import WorkerProc, counter, finished, wait_for
from .test_check import check


@pytest.fixture
def temporal_env(worker_env: dict[str, str], temporal_server: TemporalDevServer) -> dict[str, str]:
    return worker_env | {"TEMPORAL_ADDRESS": temporal_server.address}


def _start(spawn: Callable[..., WorkerProc], env: dict[str, str]) -> WorkerProc:
    worker = spawn(["temporal", "--queue", "default"], env)
    wait_for(lambda: "temporal workers polling" in worker.log(), 60, "the Temporal worker")
    return worker


async def test_temporal_worker_runs_fallback_jobs_and_drains_on_sigterm(
    spawn: Callable[..., WorkerProc],
    temporal_env: dict[str, str],
    to_temporal: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
    registry: WorkerRegistry,
) -> None:
    worker = _start(spawn, temporal_env)
    [listed] = wait_for(
        lambda: registry.live_workers("default", (ENGINE_TEMPORAL,)), 15, "a Temporal heartbeat"
    )
    # After the heartbeat: "polling" is logged a moment before the first one.
    assert check(temporal_env)[0] == 0
    assert (listed.engine, listed.queues, listed.pid) == (ENGINE_TEMPORAL, ["default"], worker.pid)
    assert registry.live_count("default") == 0, "a Temporal worker cannot take Dramatiq messages"

    quick = f"wrk:{uuid.uuid4().hex[:8]}"
    receipt = await to_temporal.dispatch("wrk.three_steps", {"key": quick, "seconds": 0.1})
    assert (receipt.engine, receipt.reason) == ("temporal", "flag_off")
    wait_for(lambda: finished(store, receipt.job_id), 30, "the fallback job")
    status = await to_temporal.get_status(receipt.job_id)
    assert (status.state, status.result) == ("succeeded", "done")
    assert [counter(redis_conn, f"{quick}:{s}") for s in ("first", "slow_done", "last")] == [1] * 3

    slow = f"wrk:{uuid.uuid4().hex[:8]}"
    receipt = await to_temporal.dispatch("wrk.three_steps", {"key": slow, "seconds": 3})
    wait_for(lambda: counter(redis_conn, f"{slow}:slow_started") == 1, 30, "the slow step")
    worker.send(signal.SIGTERM)
    assert worker.wait(30) == 0
    # Drained: the running step finished instead of being cancelled.
    assert counter(redis_conn, f"{slow}:slow_done") == 1
    assert check(temporal_env)[0] == 1
    assert registry.live_workers("default", (ENGINE_TEMPORAL,)) == [], "left the registry"

    # The rest of the job runs on the next worker; no step runs twice.
    _start(spawn, temporal_env)
    wait_for(lambda: finished(store, receipt.job_id), 40, "the rest of the job")
    assert finished(store, receipt.job_id) == "succeeded"
    assert [counter(redis_conn, f"{slow}:{s}") for s in ("first", "slow_started", "last")] == [
        1,
        1,
        1,
    ]


async def test_temporal_worker_serves_the_sdk_metrics(
    spawn: Callable[..., WorkerProc],
    temporal_env: dict[str, str],
    to_temporal: Dispatcher,
    store: JobStore,
    queue_settings: QueueSettings,
) -> None:
    port = free_port()
    _start(spawn, temporal_env | {"WORKER_METRICS_PORT": str(port)})
    key = f"wrk:{uuid.uuid4().hex[:8]}"
    receipt = await to_temporal.dispatch("wrk.three_steps", {"key": key, "seconds": 0.1})
    wait_for(lambda: finished(store, receipt.job_id), 30, "the fallback job")

    task_queue = queue_settings.keys.task_queue("default")
    # The job's record is written by the workflow's last activity, a moment
    # before the workflow itself completes.
    wait_for(lambda: _completed_workflows(port, task_queue) == 1, 30, "the completion metric")


def _completed_workflows(port: int, task_queue: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "temporal_workflow_completed_total"
        and sample.labels.get("task_queue") == task_queue
    )
