"""Worker tests: ``jobrelay-worker`` as real subprocesses against real servers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
from jobrelay.devservers import RedisServer, TemporalDevServer, free_port
from jobrelay.dispatcher import Dispatcher, DispatcherSettings, build_dispatcher
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import JobStore, QueueSettings, WorkerInfo, WorkerRegistry

SUPPORT = Path(__file__).parent / "support"
TESTJOBS = "jobrelay_worker_testjobs"
WORKER_BIN = str(Path(sys.executable).parent / "jobrelay-worker")


def wait_for(
    condition: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.05
) -> Any:
    """Poll ``condition`` until truthy; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


class WorkerProc:
    """A ``jobrelay-worker`` subprocess in a process group of its own (with its children)."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [WORKER_BIN, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        """The exit code; fails the test with the end of the worker's log if it does not exit."""
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"{' '.join(self.args)} still running after {timeout_s}s; its log ends:\n"
                + self.log()[-4000:]
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole group: the supervisor and every worker it started."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def cleanup(self) -> None:
        self.kill_group(signal.SIGCONT)
        self.kill_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


@pytest.fixture
def testjobs(monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer) -> ModuleType:
    monkeypatch.setenv("WRK_REDIS_URL", redis_server.url)
    monkeypatch.syspath_prepend(str(SUPPORT))
    discover_jobs([TESTJOBS])
    return sys.modules[TESTJOBS]


@pytest.fixture
def dead_temporal() -> str:
    """A Temporal address nobody listens on: connects fail at once."""
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def worker_env(
    queue_settings: QueueSettings, redis_server: RedisServer, tmp_path: Path, dead_temporal: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKER_", "PYTEST_"))}
    env.update(
        REDIS_URL=queue_settings.redis_url,
        JOBRELAY_PREFIX=queue_settings.prefix,
        JOBRELAY_JOB_MODULES=TESTJOBS,
        PYTHONPATH=os.pathsep.join(filter(None, [str(SUPPORT), env.get("PYTHONPATH")])),
        WRK_REDIS_URL=redis_server.url,
        WORKER_STATUS_DIR=str(tmp_path / "status"),
        WORKER_HEARTBEAT_INTERVAL_S="0.5",
        # check's Temporal probe: its default 5 s is a production figure, and
        # a loaded test machine can take longer just to import and connect.
        WORKER_CHECK_TIMEOUT_S="30",
        TEMPORAL_ADDRESS=dead_temporal,
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., WorkerProc]]:
    """Start ``jobrelay-worker ARGS`` with an env; every process group is killed at the end."""
    started: list[WorkerProc] = []

    def start(args: list[str], env: dict[str, str]) -> WorkerProc:
        proc = WorkerProc(args, env, tmp_path / f"worker-{len(started)}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.cleanup()


@pytest.fixture
def registry(redis_conn: redis.Redis, queue_settings: QueueSettings) -> WorkerRegistry:
    return WorkerRegistry.from_settings(redis_conn, queue_settings)


@pytest.fixture
def dispatcher(
    testjobs: ModuleType, queue_settings: QueueSettings, dead_temporal: str
) -> Dispatcher:
    built = build_dispatcher(
        DispatcherSettings(temporal_address=dead_temporal, live_worker_cache_ms=0),
        queue_settings,
        discover=False,
    )
    assert isinstance(built, Dispatcher)
    return built


@pytest.fixture
def to_temporal(
    testjobs: ModuleType, queue_settings: QueueSettings, temporal_server: TemporalDevServer
) -> Dispatcher:
    """A dispatcher sending every job to Temporal (``USE_DRAMATIQ=false``)."""
    built = build_dispatcher(
        DispatcherSettings(use_dramatiq=False, temporal_address=temporal_server.address),
        queue_settings,
        discover=False,
    )
    assert isinstance(built, Dispatcher)
    return built


def live_worker(registry: WorkerRegistry, queue: str, parent: WorkerProc) -> WorkerInfo | None:
    """The live worker of ``queue`` started by ``parent``'s supervisor, if any."""
    for info in registry.live_workers(queue):
        if f":{parent.pid}:" in info.worker_id:
            return info
    return None


def counter(client: redis.Redis, key: str) -> int:
    return int(client.get(key) or 0)


def pids(client: redis.Redis, key: str) -> list[int]:
    return [int(p) for p in client.lrange(key, 0, -1)]


def finished(store: JobStore, job_id: str) -> str | None:
    record = store.get(job_id)
    return record.state.value if record is not None and record.state.finished else None
