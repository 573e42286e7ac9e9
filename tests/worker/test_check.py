"""``jobrelay-worker check``: 0 when the worker lives and reaches Redis, else 1."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.queue import QueueSettings, WorkerRegistry, redis_client
from jobrelay.worker.status import WorkerStatus, write_status

from .conftest import WORKER_BIN, WorkerProc, live_worker, wait_for


def check(env: dict[str, str], *flags: str) -> tuple[int, str]:
    out = subprocess.run(
        [WORKER_BIN, "check", *flags], env=env, capture_output=True, text=True, timeout=90
    )
    return out.returncode, out.stdout + out.stderr


def test_check_follows_the_worker_and_redis(
    spawn: Callable[..., WorkerProc],
    worker_env: dict[str, str],
    own_redis: RedisServer,
    prefix: str,
) -> None:
    env = worker_env | {"REDIS_URL": own_redis.url}
    code, said = check(env)
    assert code == 1 and "no worker is running" in said

    worker = spawn(["run", "--queue", "scheduled"], env)
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    registry = WorkerRegistry.from_settings(redis_client(settings), settings)
    wait_for(lambda: live_worker(registry, "scheduled", worker), 30, "the worker's heartbeat")
    code, said = check(env)
    assert code == 0, said

    own_redis.stop()
    code, said = check(env)
    assert code == 1 and "Redis unreachable" in said
    # A liveness probe must not restart a worker that only waits for Redis.
    code, said = check(env, "--process-only")
    assert code == 0 and said.startswith("alive: dramatiq"), said

    # Redis back: the worker beats again and check agrees.
    own_redis.start()
    wait_for(lambda: check(env)[0] == 0, 20, "check to pass again", interval_s=0.5)

    worker.kill_group(signal.SIGKILL)
    worker.wait(10)
    code, said = check(env)
    assert code == 1 and "is not running" in said
    code, said = check(env, "--process-only")
    assert code == 1 and "is not running" in said


def test_a_timed_out_temporal_probe_says_unhealthy_and_does_not_crash(
    worker_env: dict[str, str], temporal_server: TemporalDevServer, prefix: str
) -> None:
    # A live Temporal worker's status (this process stands in for it) and a
    # timeout no connect meets: the SDK's connect is still running when the
    # probe gives up, and completes while the process exits.
    status_dir = Path(worker_env["WORKER_STATUS_DIR"])
    write_status(
        status_dir,
        WorkerStatus(engine="temporal", pid=os.getpid(), prefix=prefix, queues=["default"]),
    )
    env = worker_env | {
        "TEMPORAL_ADDRESS": temporal_server.address,
        "WORKER_CHECK_TIMEOUT_S": "0.001",
    }
    for _ in range(3):
        code, said = check(env)
        assert code == 1, said
        assert "Temporal unreachable" in said and "TimeoutError" in said, said
        assert "panicked" not in said, said
