"""Schedulers on real engines: several at once, catch-up after downtime, overlap."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from jobrelay.devservers import RedisServer, TemporalDevServer
from jobrelay.dispatcher import Dispatcher
from jobrelay.queue import QueueSettings
from jobrelay.scheduler import Scheduler, ScheduleStore

from .conftest import SUPPORT, read_log, runs_per_tick, runtime_schedule


async def _run_for(scheduler: Scheduler, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run_forever(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task


async def _settled(path: Path, count: int, within_s: float = 30) -> None:
    """Until ``path`` logs ``count`` runs (the jobs fired last are still running)."""
    for _ in range(int(within_s / 0.1)):
        if len(read_log(path)) >= count:
            return
        await asyncio.sleep(0.1)


async def test_three_scheduler_processes_fire_each_tick_of_a_code_schedule_once(
    sched_jobs: None,
    beating: None,
    dramatiq_worker: None,
    queue_settings: QueueSettings,
    redis_server: RedisServer,
    temporal_server: TemporalDevServer,
    tmp_path: Path,
) -> None:
    log = tmp_path / "ticks.log"
    schedule_id = f"every-second-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "JOBRELAY_PREFIX": queue_settings.prefix,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
        "SCHED_TEST_CODE_SCHEDULE": f"{schedule_id}:{log}",
    }
    procs = [
        subprocess.Popen(  # noqa: ASYNC220 - started once, before anything runs on the loop
            [sys.executable, str(SUPPORT / "run_scheduler.py")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "scheduling", "a scheduler did not start"
        await asyncio.sleep(30)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()
    await asyncio.sleep(2)  # the last firings' jobs run

    lines = read_log(log)
    counts = runs_per_tick(log)
    ticks = sorted(counts)
    assert len(ticks) >= 25, f"only {len(ticks)} ticks fired in 30 s"
    assert set(counts.values()) == {1}, {t: n for t, n in counts.items() if n != 1}
    # One run per second, none missing between the first and the last.
    assert ticks == [ticks[0] + i for i in range(len(ticks))]
    assert {line["job_id"] for line in lines} == {f"schedule:{schedule_id}:{int(t)}" for t in ticks}
    assert {line["engine"] for line in lines} == {"dramatiq"}


async def test_after_every_scheduler_stopped_for_10_s_each_catchup_policy_holds(
    sched_jobs: None,
    beating: None,
    dramatiq_worker: None,
    dispatcher: Dispatcher,
    schedule_store: ScheduleStore,
    tmp_path: Path,
) -> None:
    logs = {policy: tmp_path / f"{policy}.log" for policy in ("latest", "all", "none")}
    for policy, log in logs.items():
        # overlap="allow": under the default "skip", caught-up ticks would skip each other.
        runtime_schedule(
            schedule_store, f"catchup-{policy}", log, every=1, catchup=policy, overlap="allow"
        )

    await _run_for(Scheduler(dispatcher, schedule_store, interval_s=0.1), 3)
    stopped = {p: schedule_store.states([f"catchup-{p}"])[f"catchup-{p}"].last for p in logs}
    await asyncio.sleep(10)
    restarted = Scheduler(dispatcher, schedule_store, interval_s=0.1)
    await _run_for(restarted, 3)
    await asyncio.sleep(2)

    for policy, log in logs.items():
        counts = runs_per_tick(log)
        assert set(counts.values()) == {1}, (policy, counts)
        last = stopped[policy]
        assert last is not None
        gap = [t for t in counts if last.timestamp() < t <= restarted.watching_since.timestamp()]
        missed = int(restarted.watching_since.timestamp()) - int(last.timestamp())
        assert missed >= 9, (policy, missed)
        if policy == "latest":
            assert gap == [float(int(restarted.watching_since.timestamp()))], gap
        elif policy == "all":
            assert len(gap) == missed, (len(gap), missed)
        else:
            assert gap == [], gap
        # Before the stop and after the restart, every tick ran.
        after = [t for t in counts if t > restarted.watching_since.timestamp()]
        assert len(after) >= 2, (policy, after)


async def test_overlap_skip_holds_ticks_back_while_a_slow_firing_runs(
    sched_jobs: None,
    beating: None,
    dramatiq_worker: None,
    dispatcher: Dispatcher,
    schedule_store: ScheduleStore,
    tmp_path: Path,
) -> None:
    slow = tmp_path / "slow.log"
    runtime_schedule(schedule_store, "slow", slow, every=1, overlap="skip", payload={"hold_s": 2.5})
    free = tmp_path / "free.log"
    runtime_schedule(
        schedule_store, "free", free, every=1, overlap="allow", payload={"hold_s": 1.2}
    )
    await _run_for(Scheduler(dispatcher, schedule_store, interval_s=0.1), 8)
    state = schedule_store.states(["slow"])["slow"]
    await _settled(slow, state.fired)

    runs = sorted(read_log(slow), key=lambda line: line["start"])
    assert 2 <= len(runs) <= 4, runs
    for earlier, later in itertools.pairwise(runs):
        assert later["start"] >= earlier["end"], "a skip firing overlapped the previous one"
    assert state.skipped >= 3 and state.fired == len(runs)
    # With overlap allowed, runs do overlap: the check above can fail.
    allowed = sorted(read_log(free), key=lambda line: line["start"])
    assert any(b["start"] < a["end"] for a, b in itertools.pairwise(allowed))
    assert schedule_store.states(["free"])["free"].skipped == 0


async def test_ticks_fire_once_on_temporal_while_redis_is_down_and_not_again_after(
    sched_jobs: None,
    own_redis: RedisServer,
    temporal_server: TemporalDevServer,
    tmp_path: Path,
    prefix: str,
) -> None:
    from jobrelay.engines.temporal import connect
    from jobrelay.engines.temporal.worker import make_worker
    from jobrelay.queue import JobStore, redis_client

    from .conftest import build

    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix)
    store = ScheduleStore(redis_client(settings), settings.keys)
    log = tmp_path / "outage.log"
    # Runs take longer while Redis does not answer: "allow", so no tick is skipped for it.
    runtime_schedule(store, "through-outage", log, every=1, overlap="allow")
    client = await connect(temporal_server.address, "default")
    worker = make_worker(
        client,
        settings,
        "default",
        store=JobStore.from_settings(redis_client(settings), settings),
        job_modules=["jobrelay_sched_testjobs"],
    )
    dispatcher = build(settings, temporal_server.address)
    await dispatcher.connect()
    scheduler = Scheduler(dispatcher, store, interval_s=0.1)
    stop = asyncio.Event()
    async with worker:
        task = asyncio.create_task(scheduler.run_forever(stop))
        await asyncio.sleep(3)
        os.kill(own_redis.pid, signal.SIGSTOP)
        down_from = time.time()
        await asyncio.sleep(6)
        os.kill(own_redis.pid, signal.SIGCONT)
        up_at = time.time()
        await asyncio.sleep(5)
        stop.set()
        await task
        await _settled(log, int(time.time() - down_from), within_s=30)
        await asyncio.sleep(2)
    await dispatcher.aclose()

    lines = read_log(log)
    counts = runs_per_tick(log)
    assert set(counts.values()) == {1}, {t: n for t, n in counts.items() if n != 1}
    during = [t for t in counts if down_from + 1 < t < up_at - 1]
    assert len(during) >= 3, f"only {len(during)} ticks fired while Redis was down"
    engines = {line["tick"]: line["engine"] for line in lines}
    assert {engines[t] for t in during} == {"temporal"}
    ticks = sorted(counts)
    assert ticks == [ticks[0] + i for i in range(len(ticks))], "a tick is missing"
    assert timedelta(seconds=len(ticks)) >= timedelta(seconds=10)
