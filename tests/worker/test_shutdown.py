"""SIGTERM: prefetched messages go back at once, in-flight jobs finish, exit 0."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Callable

import pytest
import redis
from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import JobStore, QueueSettings, WorkerInfo, WorkerRegistry

from .conftest import WorkerProc, counter, finished, live_worker, pids, wait_for

# Far below the broker heartbeat timeout (5 s): a message that moves this
# fast was handed back by the drain, not recovered from a dead worker.
REQUEUE_WITHIN_S = 2.0


def _start(
    spawn: Callable[..., WorkerProc], env: dict[str, str], registry: WorkerRegistry
) -> tuple[WorkerProc, WorkerInfo]:
    proc = spawn(["run", "--queue", "default"], env | {"WORKER_CONCURRENCY": "default=1"})
    info = wait_for(lambda: live_worker(registry, "default", proc), 10, "a default worker")
    return proc, info


async def test_sigterm_requeues_prefetched_at_once_and_finishes_in_flight(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
    queue_settings: QueueSettings,
) -> None:
    run = uuid.uuid4().hex[:8]
    first, first_info = _start(spawn, worker_env, registry)
    long_key = f"wrk:{run}:long"
    long_job = await dispatcher.dispatch("wrk.overlap_default", {"key": long_key, "seconds": 4})
    wait_for(lambda: counter(redis_conn, f"{long_key}:running") == 1, 10, "the long job")
    short_keys = [f"wrk:{run}:short{i}" for i in range(3)]
    short_jobs = [
        await dispatcher.dispatch("wrk.overlap_default", {"key": key, "seconds": 0.1})
        for key in short_keys
    ]
    # One thread, prefetch two: the worker holds one short job in memory.
    queue_key = f"{queue_settings.keys.dramatiq_namespace}:default"
    wait_for(lambda: redis_conn.llen(queue_key) == 2, 5, "the first worker to prefetch")

    second, second_info = _start(spawn, worker_env, registry)
    wait_for(
        lambda: sum(counter(redis_conn, f"{k}:done") for k in short_keys) == 2,
        10,
        "the second worker to run the jobs left in Redis",
    )
    held = [k for k in short_keys if counter(redis_conn, f"{k}:done") == 0]
    assert len(held) == 1

    sent = time.monotonic()
    first.send(signal.SIGTERM)
    wait_for(lambda: counter(redis_conn, f"{held[0]}:done") == 1, REQUEUE_WITHIN_S, "requeue")
    assert counter(redis_conn, f"{long_key}:done") == 0, "requeued before the in-flight job ended"
    assert pids(redis_conn, f"{held[0]}:pids") == [second_info.pid]
    assert time.monotonic() - sent < REQUEUE_WITHIN_S

    assert first.wait(15) == 0
    assert counter(redis_conn, f"{long_key}:done") == 1
    assert pids(redis_conn, f"{long_key}:pids") == [first_info.pid], "finished where it began"
    for receipt in [long_job, *short_jobs]:
        assert finished(store, receipt.job_id) == "succeeded"
    for key in [long_key, *short_keys]:
        assert counter(redis_conn, f"{key}:done") == 1, key
    assert "requeued 1 prefetched messages" in first.log()
    second.send(signal.SIGTERM)
    assert second.wait(15) == 0


@pytest.mark.parametrize("how", ["second_signal", "grace_period"])
async def test_unfinished_job_goes_back_when_the_stop_is_forced(
    how: str,
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
) -> None:
    grace = "1" if how == "grace_period" else "60"
    first, _ = _start(spawn, worker_env | {"WORKER_GRACE_PERIOD_S": grace}, registry)
    key = f"wrk:{uuid.uuid4().hex[:8]}:long"
    receipt = await dispatcher.dispatch("wrk.overlap_default", {"key": key, "seconds": 6})
    wait_for(lambda: counter(redis_conn, f"{key}:running") == 1, 10, "the long job")
    second, second_info = _start(spawn, worker_env, registry)

    sent = time.monotonic()
    first.send(signal.SIGTERM)
    if how == "second_signal":
        await asyncio.sleep(0.5)
        first.send(signal.SIGTERM)
        assert first.wait(5) == 1, "a forced stop says so"
    else:
        assert first.wait(5) == 0, "the grace period ran out: work handed back, clean exit"
    assert time.monotonic() - sent < 4, "did not wait for the 6 s job"

    # Handed back at once: the second worker starts it again well before the
    # broker heartbeat timeout, and the job finishes once.
    wait_for(lambda: pids(redis_conn, f"{key}:pids")[1:] == [second_info.pid], 2, "the retake")
    wait_for(lambda: finished(store, receipt.job_id), 15, "the job")
    assert finished(store, receipt.job_id) == "succeeded"
    assert counter(redis_conn, f"{key}:done") == 1
    assert "requeued 1 unfinished messages" in first.log()
    second.send(signal.SIGTERM)
    assert second.wait(15) == 0


async def test_sigterm_to_the_whole_group_still_drains(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
) -> None:
    # systemd, timeout(1) and kill -- -PGID signal every process of the group:
    # each worker gets SIGTERM twice (directly and from its supervisor).
    worker, info = _start(spawn, worker_env, registry)
    key = f"wrk:{uuid.uuid4().hex[:8]}"
    receipt = await dispatcher.dispatch("wrk.overlap_default", {"key": key, "seconds": 2})
    wait_for(lambda: counter(redis_conn, f"{key}:running") == 1, 10, "the job")
    worker.kill_group(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert finished(store, receipt.job_id) == "succeeded"
    assert pids(redis_conn, f"{key}:pids") == [info.pid], "finished in place, not forced"
    assert "forced stop" not in worker.log()
