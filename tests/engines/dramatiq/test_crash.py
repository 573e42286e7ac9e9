"""A worker process killed with SIGKILL mid-job: another worker finishes it, no step runs twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq
import pytest
from jobrelay.devservers import RedisServer
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.queue import JobState, JobStore, QueueSettings

SUPPORT = Path(__file__).parent / "support"
TESTJOBS = "jobrelay_dramatiq_testjobs"


@pytest.fixture
def adapter(queue_settings: QueueSettings, store: JobStore, clock: Any) -> DramatiqAdapter:
    # The surviving worker must notice the dead one fast: a short broker
    # heartbeat timeout, and queue maintenance on every call.
    broker = make_broker(queue_settings, heartbeat_timeout_ms=1000, maintenance_chance=1_000_000)
    return DramatiqAdapter(broker, store, queue_settings, clock=clock)


def _spawn_worker(settings: QueueSettings, redis_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "JOBRELAY_PREFIX": settings.prefix,
        "JOBRELAY_JOB_MODULES": TESTJOBS,
        "DTEST_REDIS_URL": redis_url,
        "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq_test_worker",
                "--queue",
                "default",
                "--threads",
                "1",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


# The killed worker may have taken step two's lease (30 s, never released):
# the job then finishes only once it expires.
@pytest.mark.timeout(300)
def test_kill_9_after_step_one_of_three(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    until: Callable[..., None],
    counts: Callable[[str], dict[str, int]],
    store: JobStore,
    redis_conn: Any,
    queue_settings: QueueSettings,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    proc = _spawn_worker(queue_settings, redis_server.url, log)
    try:
        job_id = submit("dtest.three_steps", {"gate": True})

        def in_step_two() -> bool:
            assert proc.poll() is None, log.read_text()
            record = store.get(job_id)
            return record is not None and record.progress == 33  # step one memoised

        until(in_step_two, timeout=60, what="the subprocess to finish step one")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    assert counts(job_id) == {"one": 1}
    assert store.get(job_id).state is JobState.RUNNING  # type: ignore[union-attr]
    redis_conn.set(testjobs.key(job_id, "gate"), "open")

    workers(adapter, ["default"])
    record = wait_for(job_id, JobState.SUCCEEDED, timeout=120)

    assert counts(job_id) == {"one": 1, "two": 1, "three": 1}
    assert record.engine == "dramatiq"
