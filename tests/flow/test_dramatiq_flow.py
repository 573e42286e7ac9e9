"""Flow control on Dramatiq: keyed concurrency over two worker processes, a killed
holder's slot, a rate limit; measured from the steps' own start and end times."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq
import pytest
from flow_test_support import SUPPORT as FLOW_SUPPORT
from flow_test_support import TESTJOBS, Spans, max_overlap, most_starts_within
from jobrelay.devservers import RedisServer
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.job_engine import get_job
from jobrelay.queue import FlowGate, JobRecord, JobState, JobStore, QueueSettings

DRAMATIQ_SUPPORT = Path(__file__).parents[1] / "engines" / "dramatiq" / "support"


@pytest.fixture
def adapter(queue_settings: QueueSettings, store: JobStore) -> DramatiqAdapter:
    return DramatiqAdapter(make_broker(queue_settings), store, queue_settings)


@pytest.fixture
def submit(store: JobStore, adapter: DramatiqAdapter) -> Callable[..., str]:
    """What the dispatcher does for an undelayed job: the record, then the message."""

    def submit(name: str, payload: dict[str, Any]) -> str:
        job_id = uuid.uuid4().hex
        definition = get_job(name)
        data = definition.dump_payload(payload)
        record = JobRecord(job_id=job_id, name=name, queue="default", payload=json.dumps(data))
        assert store.create(record)
        adapter.enqueue(EngineJob(job_id=job_id, name=name, queue="default", payload=data))
        return job_id

    return submit


@pytest.fixture
def processes(
    queue_settings: QueueSettings, redis_server: RedisServer, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Worker processes (``dramatiq_test_worker``) serving ``default``, killed at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(threads: int = 4, **env: str) -> subprocess.Popen[bytes]:
        log = tmp_path / f"worker{len(started)}.log"
        path = [str(DRAMATIQ_SUPPORT), str(FLOW_SUPPORT), os.environ.get("PYTHONPATH", "")]
        environ = {
            **os.environ,
            "REDIS_URL": queue_settings.redis_url,
            "JOBRELAY_PREFIX": queue_settings.prefix,
            "JOBRELAY_JOB_MODULES": TESTJOBS,
            "FLOWT_REDIS_URL": redis_server.url,
            "PYTHONPATH": os.pathsep.join(path),
            **env,
        }
        argv = [sys.executable, "-m", "dramatiq_test_worker", "--queue", "default"]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*argv, "--threads", str(threads)], env=environ, stdout=out, stderr=out
            )
        started.append(proc)
        deadline = time.monotonic() + 60
        while b"worker ready" not in log.read_bytes():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker process never got ready"
            time.sleep(0.05)
        return proc

    yield spawn
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.mark.timeout(180)
def test_thirty_jobs_of_one_key_never_run_more_than_two_at_once_on_two_processes(
    flowjobs: ModuleType,
    submit: Callable[..., str],
    processes: Callable[..., subprocess.Popen[bytes]],
    spans: Spans,
    run_id: str,
    store: JobStore,
) -> None:
    # Eight worker threads in all: without the limit, up to eight would overlap.
    processes(threads=4)
    processes(threads=4)
    ids = [
        submit("flowt.limited", {"run": run_id, "key": "cal-1", "hold_s": 0.15}) for _ in range(30)
    ]
    # Jobs of another key are not held back by this one's limit.
    others = [
        submit("flowt.limited", {"run": run_id, "key": "cal-2", "label": "other"}) for _ in range(2)
    ]
    found = spans.wait(32)
    keyed = [s for s in found if s["label"] != "other"]
    assert sorted(s["job_id"] for s in keyed) == sorted(ids)
    assert max_overlap(keyed) == 2
    for job_id in ids + others:
        deadline = time.monotonic() + 30
        while (record := store.get(job_id)) is None or record.state is not JobState.SUCCEEDED:
            assert time.monotonic() < deadline, f"{job_id}: {record}"
            time.sleep(0.05)
        assert record.attempts == 1  # waiting for a slot is not an attempt


@pytest.mark.timeout(180)
def test_a_killed_worker_frees_its_slot_when_its_lease_ends(
    flowjobs: ModuleType,
    submit: Callable[..., str],
    processes: Callable[..., subprocess.Popen[bytes]],
    spans: Spans,
    run_id: str,
    store: JobStore,
    adapter: DramatiqAdapter,
    queue_settings: QueueSettings,
) -> None:
    lease_s = 2.0
    holder = processes(threads=1, JOBRELAY_FLOW_LEASE_S=str(lease_s))
    gate = FlowGate(store.client, store.keys)
    first = submit("flowt.single", {"run": run_id, "key": "k", "hold_s": 60, "label": "first"})
    deadline = time.monotonic() + 60
    while (record := store.get(first)) is None or record.state is not JobState.RUNNING:
        assert time.monotonic() < deadline, "the first job never started"
        time.sleep(0.05)
    assert gate.holders("flowt.single", "k") == [f"{first}|dramatiq"]
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    killed_at = time.time()
    lease_end = store.client.zscore(store.keys.flow_slots("flowt.single", "k"), f"{first}|dramatiq")
    assert lease_end is not None and lease_end / 1000 <= killed_at + lease_s + 0.5

    second = submit("flowt.single", {"run": run_id, "key": "k", "label": "second"})
    worker = start_worker(adapter, ["default"], threads=2)
    try:
        found = spans.wait(1, timeout_s=60)
    finally:
        worker.stop(timeout=10_000)
    (span,) = found
    assert span["job_id"] == second
    # Not before the dead holder's lease ended (the limit held), and soon after
    # it: well before the dead worker's message is handed on to run again.
    assert lease_end / 1000 <= span["start"] < lease_end / 1000 + 5


@pytest.mark.timeout(180)
def test_ten_a_second_over_fifty_jobs_never_starts_more_than_ten_in_a_second(
    flowjobs: ModuleType,
    submit: Callable[..., str],
    adapter: DramatiqAdapter,
    spans: Spans,
    run_id: str,
) -> None:
    workers: list[dramatiq.Worker] = []
    try:
        ids = [submit("flowt.paced", {"run": run_id, "key": "api"}) for _ in range(50)]
        workers.append(start_worker(adapter, ["default"], threads=8))
        found = spans.wait(50)
    finally:
        for worker in workers:
            worker.stop(timeout=10_000)
    assert sorted(s["job_id"] for s in found) == sorted(ids)
    starts = [s["start"] for s in found]
    assert most_starts_within(starts, 1.0) <= 10
    # Fifty turns 0.11 s apart take 5.39 s; the starts vary by a few ms around them.
    took = max(starts) - min(starts)
    assert took >= 4.5
    print(f"50 jobs at 10/s started over {took:.2f}s")
