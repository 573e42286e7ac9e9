"""SIGTERM: prefetched messages go back at once, in-flight jobs finish, exit 0."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable

import pytest
import redis
from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import JobStore, QueueSettings, WorkerInfo, WorkerRegistry

from .conftest import WorkerProc, counter, finished, live_worker, pids, wait_for

# No crash recovery within a test: with a 60 s broker heartbeat timeout a
# message that moves to another worker was handed back by the drain, not
# recovered from a dead (or silent) worker. No clock needed to tell them apart.
NO_RECOVERY = {"WORKER_BROKER_HEARTBEAT_TIMEOUT_MS": "60000"}

# A deadline for what takes about a second here. It only catches a hang: with
# NO_RECOVERY the wrong outcomes do not come late, they never come at all.
SOON_S = 15.0


def _start(
    spawn: Callable[..., WorkerProc], env: dict[str, str], registry: WorkerRegistry
) -> tuple[WorkerProc, WorkerInfo]:
    proc = spawn(
        ["run", "--queue", "default"], env | NO_RECOVERY | {"WORKER_CONCURRENCY": "default=1"}
    )
    info = wait_for(lambda: live_worker(registry, "default", proc), 30, "a default worker")
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
    # Gated: still running when the held message comes back, however slowly
    # the second worker starts on a loaded machine.
    long_job = await dispatcher.dispatch("wrk.overlap_default", {"key": long_key, "gated": True})
    wait_for(lambda: counter(redis_conn, f"{long_key}:running") == 1, 30, "the long job")
    short_keys = [f"wrk:{run}:short{i}" for i in range(3)]
    short_jobs = [
        await dispatcher.dispatch("wrk.overlap_default", {"key": key, "seconds": 0.1})
        for key in short_keys
    ]
    # One thread, prefetch two: the worker holds one short job in memory.
    queue_key = f"{queue_settings.keys.dramatiq_namespace}:default"
    wait_for(lambda: redis_conn.llen(queue_key) == 2, SOON_S, "the first worker to prefetch")

    second, second_info = _start(spawn, worker_env, registry)
    wait_for(
        lambda: sum(counter(redis_conn, f"{k}:done") for k in short_keys) == 2,
        SOON_S,
        "the second worker to run the jobs left in Redis",
    )
    held = [k for k in short_keys if counter(redis_conn, f"{k}:done") == 0]
    assert len(held) == 1

    first.send(signal.SIGTERM)
    # "At once" is an order, not a time: the held message runs on the second
    # worker while the first still runs its in-flight job. Left in the first
    # worker's cache it would come back only after that job and the 60 s
    # heartbeat timeout (and a worker that ran it itself shows in its pids).
    wait_for(lambda: counter(redis_conn, f"{held[0]}:done") == 1, SOON_S, "the requeued job")
    assert counter(redis_conn, f"{long_key}:done") == 0, "requeued only after the in-flight job"
    assert pids(redis_conn, f"{held[0]}:pids") == [second_info.pid]

    redis_conn.set(f"{long_key}:gate", 1)
    assert first.wait(30) == 0
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
    first, first_info = _start(spawn, worker_env | {"WORKER_GRACE_PERIOD_S": grace}, registry)
    key = f"wrk:{uuid.uuid4().hex[:8]}:long"
    # Gated: the job cannot finish on the first worker, however slowly the
    # second starts; the gate opens once the first is gone.
    receipt = await dispatcher.dispatch("wrk.overlap_default", {"key": key, "gated": True})
    wait_for(lambda: counter(redis_conn, f"{key}:running") == 1, 30, "the long job")
    second, second_info = _start(spawn, worker_env, registry)

    first.send(signal.SIGTERM)
    if how == "second_signal":
        # Only once the first is taken: two SIGTERMs pending at once are one.
        wait_for(lambda: "stopping workers gracefully" in first.log(), SOON_S, "the first stop")
        first.send(signal.SIGTERM)
        assert first.wait(30) == 1, "a forced stop says so"
    else:
        assert first.wait(30) == 0, "the grace period ran out: work handed back, clean exit"

    # Handed back, not waited for: the step was cut on the first worker and
    # runs again on the second (no heartbeat recovery here, see NO_RECOVERY),
    # and the job finishes once. A stop that waited for the gated job would
    # not have ended above.
    redis_conn.set(f"{key}:gate", 1)
    wait_for(lambda: pids(redis_conn, f"{key}:pids")[1:] == [second_info.pid], SOON_S, "the retake")
    wait_for(lambda: finished(store, receipt.job_id), 30, "the job")
    assert finished(store, receipt.job_id) == "succeeded"
    assert pids(redis_conn, f"{key}:pids") == [first_info.pid, second_info.pid]
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
    wait_for(lambda: counter(redis_conn, f"{key}:running") == 1, 30, "the job")
    worker.kill_group(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert finished(store, receipt.job_id) == "succeeded"
    assert pids(redis_conn, f"{key}:pids") == [info.pid], "finished in place, not forced"
    assert "forced stop" not in worker.log()
