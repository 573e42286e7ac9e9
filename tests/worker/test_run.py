"""``jobrelay-worker run``: heartbeats, per-queue concurrency, supervision, clean exit."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from functools import partial

import redis
from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import QUEUES, JobStore, WorkerRegistry

from .conftest import WorkerProc, counter, finished, live_worker, pids, wait_for

CONCURRENCY = {"default": 3, "data_sync": 1, "scheduled": 2}
JOBS_PER_QUEUE = 7
# Only catches a worker that never starts: a loaded machine may take seconds.
START_S = 60.0


async def test_heartbeats_and_each_queue_at_its_concurrency(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
) -> None:
    env = worker_env | {"WORKER_CONCURRENCY": ",".join(f"{q}={n}" for q, n in CONCURRENCY.items())}
    worker = spawn(["run"], env)
    # How soon the first heartbeat comes is a figure for bench/, not a test:
    # the wait only catches a worker that never registers.
    infos = {
        q: wait_for(partial(live_worker, registry, q, worker), START_S, f"heartbeat of {q}")
        for q in QUEUES
    }

    child_pids = {info.pid for info in infos.values()}
    assert len(child_pids) == len(QUEUES), "one process per queue"
    assert worker.pid not in child_pids
    for queue, info in infos.items():
        assert info.queues == [queue]
        assert info.concurrency == {queue: CONCURRENCY[queue]}
        assert info.version == "0.1.0"
        assert info.engine == "dramatiq"
        assert info.started_at <= info.last_seen <= time.time()

    run = uuid.uuid4().hex[:8]
    keys = {q: f"wrk:{run}:{q}" for q in QUEUES}
    job_ids = []
    for queue, key in keys.items():
        for _ in range(JOBS_PER_QUEUE):
            receipt = await dispatcher.dispatch(f"wrk.overlap_{queue}", {"key": key, "gated": True})
            assert receipt.engine == "dramatiq"
            job_ids.append(receipt.job_id)
    # Gated: every slot fills however slowly the jobs arrive, then the gates open.
    for queue, key in keys.items():
        wait_for(partial(_running, redis_conn, key, CONCURRENCY[queue]), 30, f"{queue} full")
        redis_conn.set(f"{key}:gate", 1)
    for queue, key in keys.items():
        wait_for(partial(_all_done, redis_conn, key), 30, f"{queue} jobs")
    for queue, key in keys.items():
        # Never more than the queue's concurrency at once.
        assert counter(redis_conn, f"{key}:max") == CONCURRENCY[queue], queue
        assert set(pids(redis_conn, f"{key}:pids")) == {infos[queue].pid}, queue
    # A step's side effect comes before its job's record is finished.
    wait_for(
        lambda: all(finished(store, job_id) == "succeeded" for job_id in job_ids), 30, "records"
    )

    # The counters reach the registry with the next heartbeat.
    wait_for(
        lambda: (
            (info := live_worker(registry, "default", worker)) is not None
            and info.jobs_done == JOBS_PER_QUEUE
        ),
        15,
        "jobs_done in the heartbeat",
    )

    worker.send(signal.SIGTERM)
    assert worker.wait(20) == 0
    for queue in QUEUES:
        assert registry.live_count(queue) == 0, "deregistered on a clean exit"
    for pid in child_pids:
        assert not _alive(pid)


def test_crashed_worker_process_is_restarted(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    registry: WorkerRegistry,
) -> None:
    env = worker_env | {"WORKER_RESTART_BACKOFF_S": "0.2"}
    worker = spawn(["run", "--queue", "data_sync", "--queue", "scheduled"], env)
    first = wait_for(lambda: live_worker(registry, "data_sync", worker), START_S, "data_sync")
    other = wait_for(lambda: live_worker(registry, "scheduled", worker), START_S, "scheduled")
    assert live_worker(registry, "default", worker) is None, "only the queues asked for"

    os.kill(first.pid, signal.SIGKILL)
    restarted = wait_for(
        lambda: (
            (i := live_worker(registry, "data_sync", worker)) is not None
            and i.pid != first.pid
            and i
        ),
        START_S,
        "a restarted data_sync worker",
    )
    assert restarted.worker_id == first.worker_id
    assert live_worker(registry, "scheduled", worker).pid == other.pid  # type: ignore[union-attr]
    assert "died with -9" in worker.log()

    worker.send(signal.SIGTERM)
    assert worker.wait(20) == 0


def _running(client: redis.Redis, key: str, n: int) -> bool:
    return counter(client, f"{key}:running") == n


def _all_done(client: redis.Redis, key: str) -> bool:
    return counter(client, f"{key}:done") == JOBS_PER_QUEUE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
