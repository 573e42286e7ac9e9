"""Crashed and frozen workers: the job finishes once elsewhere, finished steps not re-run."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Callable

import pytest
import redis
from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import JobStore, WorkerRegistry

from .conftest import WorkerProc, counter, finished, live_worker, pids, wait_for

# How long a crashed or frozen worker's job may take to finish elsewhere.
# Expected: the cut step's lease (30 s from its start, never released by a
# dead or frozen worker) outlasts the broker heartbeat timeout (5 s) and a
# maintenance tick (1 s), so about 31 s. A message never redelivered hangs,
# and one left to Dramatiq's own default heartbeat timeout (60 s) comes back
# at least 60 s after the kill: 55 s leaves a loaded machine room and still
# fails both. (Speed of recovery is a figure for bench/, not a test.)
RECOVERY_S = 55.0

# Each test waits out one recovery and a few worker starts and stops: more
# than the suite's 120 s per test on a loaded machine, still bounded.
pytestmark = pytest.mark.timeout(300)


def _start(
    spawn: Callable[..., WorkerProc], env: dict[str, str], registry: WorkerRegistry
) -> tuple[WorkerProc, int]:
    proc = spawn(["run", "--queue", "default"], env)
    info = wait_for(lambda: live_worker(registry, "default", proc), 30, "a default worker")
    return proc, info.pid


def _runner_and_other(
    workers: list[tuple[WorkerProc, int]], redis_conn: redis.Redis, key: str
) -> tuple[WorkerProc, int, WorkerProc, int]:
    """Which of two live workers took the job (the one that ran its first step)."""
    runner, runner_pid = next(w for w in workers if pids(redis_conn, f"{key}:pids:first") == [w[1]])
    other, other_pid = next(w for w in workers if w[1] != runner_pid)
    return runner, runner_pid, other, other_pid


async def test_sigkilled_workers_job_completes_on_another(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
) -> None:
    key = f"wrk:{uuid.uuid4().hex[:8]}"
    # Both live before the dispatch: starting one while the slow step runs
    # could outlast the step on a loaded machine, and nothing would be cut.
    both = [_start(spawn, worker_env, registry) for _ in range(2)]
    receipt = await dispatcher.dispatch("wrk.three_steps", {"key": key, "gated": True})
    wait_for(lambda: counter(redis_conn, f"{key}:slow_started") == 1, 30, "the slow step")
    first, first_pid, second, second_pid = _runner_and_other(both, redis_conn, key)

    first.kill_group(signal.SIGKILL)
    redis_conn.set(f"{key}:gate", 1)
    wait_for(lambda: finished(store, receipt.job_id), RECOVERY_S, "the job on the second worker")
    assert finished(store, receipt.job_id) == "succeeded"

    assert counter(redis_conn, f"{key}:first") == 1, "a finished step is not run again"
    assert pids(redis_conn, f"{key}:pids:first") == [first_pid]
    assert pids(redis_conn, f"{key}:pids:slow") == [first_pid, second_pid], "the cut step reran"
    assert counter(redis_conn, f"{key}:slow_done") == 1
    assert pids(redis_conn, f"{key}:pids:last") == [second_pid]
    second.send(signal.SIGTERM)
    assert second.wait(15) == 0


async def test_frozen_worker_duplicate_is_absorbed(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    redis_conn: redis.Redis,
    store: JobStore,
) -> None:
    key = f"wrk:{uuid.uuid4().hex[:8]}"
    both = [_start(spawn, worker_env, registry) for _ in range(2)]
    receipt = await dispatcher.dispatch("wrk.three_steps", {"key": key, "gated": True})
    wait_for(lambda: counter(redis_conn, f"{key}:slow_started") == 1, 30, "the slow step")
    first, first_pid, second, second_pid = _runner_and_other(both, redis_conn, key)

    first.kill_group(signal.SIGSTOP)
    redis_conn.set(f"{key}:gate", 1)
    try:
        # Frozen past the broker heartbeat timeout: its message is redelivered.
        wait_for(lambda: finished(store, receipt.job_id), RECOVERY_S, "the job on the other")
    finally:
        first.kill_group(signal.SIGCONT)
    assert pids(redis_conn, f"{key}:pids:last") == [second_pid]
    # The thawed worker finishes the step it was in, then must not go on.
    wait_for(lambda: counter(redis_conn, f"{key}:slow_done") == 2, 30, "the thawed step")
    await asyncio.sleep(1.5)

    record = store.get(receipt.job_id)
    assert record is not None and record.state == "succeeded" and record.result == '"done"'
    assert counter(redis_conn, f"{key}:first") == 1
    assert pids(redis_conn, f"{key}:pids:slow") == [first_pid, second_pid]
    assert counter(redis_conn, f"{key}:last") == 1, "the duplicate delivery ran no further step"
    # The thawed worker is healthy again and stops cleanly.
    wait_for(lambda: live_worker(registry, "default", first), 30, "the thawed worker's heartbeat")
    first.send(signal.SIGTERM)
    assert first.wait(15) == 0
    second.send(signal.SIGTERM)
    assert second.wait(15) == 0
