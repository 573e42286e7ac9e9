"""``WORKER_METRICS_PORT``: the supervisor serves every queue process's Prometheus metrics."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable
from functools import partial

import httpx
import redis
from jobrelay.devservers import free_port
from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import JobStore, WorkerRegistry
from prometheus_client.parser import text_string_to_metric_families

from .conftest import WorkerProc, counter, finished, live_worker, wait_for

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def jobs(outcome: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("jobrelay_worker_jobs_total", (("outcome", outcome), ("queue", "default")))


def succeeded(samples: Samples) -> float:
    return samples.get(jobs("succeeded"), 0.0)


async def test_metrics_count_every_process_and_survive_a_crashed_child(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
) -> None:
    port = free_port()
    env = worker_env | {"WORKER_METRICS_PORT": str(port), "WORKER_RESTART_BACKOFF_S": "0.2"}
    worker = spawn(["run", "--queue", "default"], env)
    first = wait_for(partial(live_worker, registry, "default", worker), 30, "a heartbeat")

    key = f"wrk:{uuid.uuid4().hex[:8]}"
    ok = [(await dispatcher.dispatch("wrk.noop", {"key": key})).job_id for _ in range(5)]
    bad = (await dispatcher.dispatch("wrk.refuser", {"key": key})).job_id
    for job_id in [*ok, bad]:
        wait_for(partial(finished, store, job_id), 30, f"job {job_id}")
    assert counter(redis_conn, f"{key}:refused") == 2

    seconds_count = ("jobrelay_worker_job_seconds_count", (("queue", "default"),))
    in_flight = ("jobrelay_worker_jobs_in_flight", (("queue", "default"),))

    # A delivery's metrics are written after its record is finished: wait for
    # all 7 deliveries' metrics, not for the records.
    def all_counted(s: Samples) -> bool:
        outcomes = sum(s.get(jobs(o), 0) for o in ("succeeded", "retrying", "dead"))
        return s.get(seconds_count) == 7 and outcomes == 7

    samples = wait_for(lambda: (s := scrape(port)) and all_counted(s) and s, 30, "7 counted")
    assert succeeded(samples) == 5
    # The refuser's first delivery was retried, its second gave up.
    assert (samples[jobs("retrying")], samples[jobs("dead")]) == (1, 1)
    assert samples[in_flight] == 0
    info = wait_for(
        lambda: (i := live_worker(registry, "default", worker)) and i.jobs_done == 5 and i,
        15,
        "the heartbeat's counts",
    )
    assert info.jobs_failed == 1, "a dead job counts as failed in the registry"

    os.kill(first.pid, signal.SIGKILL)
    wait_for(
        lambda: (info := live_worker(registry, "default", worker)) and info.pid != first.pid,
        15,
        "the restarted worker's heartbeat",
    )
    more = (await dispatcher.dispatch("wrk.noop", {"key": key})).job_id
    wait_for(partial(finished, store, more), 30, "a job on the restarted worker")
    samples = wait_for(lambda: (s := scrape(port)) and succeeded(s) == 6 and s, 30, "6 done")
    assert samples[jobs("dead")] == 1, "the dead child's counts were lost"
    assert samples[in_flight] == 0
