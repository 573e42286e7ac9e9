"""``jobrelay-worker run`` hosts a scheduler: a run-time schedule's ticks run, each once."""

from __future__ import annotations

from collections.abc import Callable

import redis
from jobrelay.job_engine import Schedule
from jobrelay.queue import QueueSettings
from jobrelay.scheduler import ScheduleStore

from .conftest import WorkerProc, wait_for

START_S = 60.0


def test_the_worker_fires_a_runtime_schedule_once_per_tick(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    redis_conn: redis.Redis,
    queue_settings: QueueSettings,
    prefix: str,
) -> None:
    key = f"{prefix}tally"
    store = ScheduleStore(redis_conn, queue_settings.keys)
    assert store.put(
        Schedule(id="tick", job="wrk.tally", every=1, payload={"key": key}), create=True
    )
    env = worker_env | {"JOBRELAY_SCHEDULER_INTERVAL_S": "0.2", "WORKER_CONCURRENCY": "default=2"}
    spawn(["run", "-q", "default"], env)

    def ran() -> dict[bytes, bytes] | None:
        runs: dict[bytes, bytes] = redis_conn.hgetall(key)  # type: ignore[assignment]
        return runs if len(runs) >= 4 else None

    runs = wait_for(ran, START_S, "four ticks of the schedule")
    assert all(job_id.startswith(b"schedule:tick:") for job_id in runs), runs
    assert set(runs.values()) == {b"1"}, runs
    assert store.states(["tick"])["tick"].fired >= 4
