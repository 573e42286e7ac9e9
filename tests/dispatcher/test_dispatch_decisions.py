"""The dispatch decision flow over a real Redis, with in-memory engines (fast unit tests)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest
from jobrelay.devservers import RedisServer, free_port
from jobrelay.dispatcher import (
    Dispatcher,
    DispatcherSettings,
    DispatchUnavailable,
    InvalidPayload,
    LiveWorkers,
    PayloadTooLarge,
    Reason,
    UnknownJob,
)
from jobrelay.dispatcher.testing import MemoryDramatiq, MemoryTemporal
from jobrelay.queue import (
    BreakerState,
    JobState,
    JobStore,
    QueuePauses,
    QueueSettings,
    RedisHealth,
    WorkerInfo,
    WorkerRegistry,
    redis_client,
)
from store_peek import overdue


def _dispatcher(
    settings: DispatcherSettings,
    store: JobStore,
    health: RedisHealth,
    registry: WorkerRegistry,
    dramatiq: MemoryDramatiq,
    temporal: MemoryTemporal,
) -> Dispatcher:
    return Dispatcher(
        settings,
        store=store,
        health=health,
        workers=LiveWorkers(registry, cache_s=0),
        dramatiq=dramatiq,
        temporal=temporal,
    )


async def test_live_worker_goes_to_dramatiq_with_record_and_deadline(
    mem_dispatcher: Dispatcher,
    heartbeat: Callable[..., str],
    mem_dramatiq: MemoryDramatiq,
    mem_temporal: MemoryTemporal,
    store: JobStore,
) -> None:
    heartbeat("default")
    before = time.time()
    receipt = await mem_dispatcher.dispatch("dsp.ping", {"n": 1}, job_id="a1")
    assert (receipt.engine, receipt.reason, receipt.deduplicated) == ("dramatiq", Reason.OK, False)
    assert mem_dramatiq.job_ids == ["a1"]
    assert mem_temporal.workflows == {}
    record = store.get("a1")
    assert record is not None
    assert (record.name, record.queue, record.state, record.engine) == (
        "dsp.ping",
        "default",
        JobState.QUEUED,
        "dramatiq",
    )
    assert record.payload == '{"n":1,"note":""}'
    assert store.owner("a1") is None
    # Watched until its pickup deadline (5 s in these tests).
    assert overdue(store, now=before + 4) == []
    assert overdue(store, now=time.time() + 5.1) == ["a1"]


async def test_flag_off_goes_to_temporal_and_keeps_a_record(
    testjobs: object,
    store: JobStore,
    health: RedisHealth,
    registry: WorkerRegistry,
    heartbeat: Callable[..., str],
) -> None:
    heartbeat("default")
    dramatiq, temporal = MemoryDramatiq(), MemoryTemporal()
    off = DispatcherSettings(use_dramatiq=False)
    dispatcher = _dispatcher(off, store, health, registry, dramatiq, temporal)
    receipt = await dispatcher.dispatch("dsp.ping", {}, job_id="f1")
    assert (receipt.engine, receipt.reason) == ("temporal", Reason.FLAG_OFF)
    assert dramatiq.sent == []
    assert list(temporal.workflows) == ["f1"]
    record = store.get("f1")
    assert record is not None and record.engine == "temporal" and record.reason == "flag_off"
    assert store.owner("f1") == "temporal"
    assert overdue(store, now=time.time() + 3600) == []  # start confirmed: nothing to repair


async def test_no_live_worker_goes_to_temporal(
    mem_dispatcher: Dispatcher, mem_dramatiq: MemoryDramatiq, mem_temporal: MemoryTemporal
) -> None:
    receipt = await mem_dispatcher.dispatch("dsp.ping", {}, job_id="n1")
    assert (receipt.engine, receipt.reason) == ("temporal", Reason.NO_LIVE_WORKER)
    assert mem_dramatiq.sent == [] and list(mem_temporal.workflows) == ["n1"]


async def test_worker_of_another_queue_does_not_count(
    mem_dispatcher: Dispatcher, heartbeat: Callable[..., str]
) -> None:
    heartbeat("data_sync")
    receipt = await mem_dispatcher.dispatch("dsp.ping", {})
    assert receipt.reason is Reason.NO_LIVE_WORKER


async def test_enqueue_raising_goes_to_temporal_and_claims(
    mem_dispatcher: Dispatcher,
    heartbeat: Callable[..., str],
    mem_dramatiq: MemoryDramatiq,
    mem_temporal: MemoryTemporal,
    store: JobStore,
) -> None:
    heartbeat("default")
    mem_dramatiq.fail = RuntimeError("broker exploded")
    receipt = await mem_dispatcher.dispatch("dsp.ping", {}, job_id="e1")
    assert (receipt.engine, receipt.reason) == ("temporal", Reason.ENQUEUE_FAILED)
    assert list(mem_temporal.workflows) == ["e1"]
    assert store.owner("e1") == "temporal"
    record = store.get("e1")
    assert record is not None and record.engine == "temporal"
    assert record.reason == "enqueue_failed"


async def test_dead_redis_goes_straight_to_temporal(
    testjobs: object,
    dsettings: DispatcherSettings,
    count_redis_calls: Callable[..., list[None]],
) -> None:
    dead = QueueSettings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = redis_client(dead)
    calls = count_redis_calls(client)
    dramatiq, temporal = MemoryDramatiq(), MemoryTemporal()
    health = RedisHealth.from_settings(client, dead)
    dispatcher = Dispatcher(
        dsettings,
        store=JobStore.from_settings(client, dead),
        health=health,
        workers=LiveWorkers(WorkerRegistry.from_settings(client, dead)),
        dramatiq=dramatiq,
        temporal=temporal,
    )
    receipt = await dispatcher.dispatch("dsp.ping", {}, job_id="r1")
    assert (receipt.engine, receipt.reason) == ("temporal", Reason.REDIS_UNAVAILABLE)
    assert list(temporal.workflows) == ["r1"] and dramatiq.sent == []
    # "Straight": the failed health PING is the only Redis call (no live-worker
    # lookup, no record write, no retry); the record waits for Redis in the
    # backfill. How fast that is, is a figure for bench/.
    assert len(calls) == 1
    assert health.state is BreakerState.OPEN
    assert len(dispatcher.fallback.backfill) == 1
    # With the breaker open the next dispatch asks Redis nothing at all.
    await dispatcher.dispatch("dsp.ping", {}, job_id="r2")
    assert len(calls) == 1


async def test_a_frozen_redis_does_not_block_the_callers_event_loop(
    testjobs: object, dsettings: DispatcherSettings, prefix: str, own_redis: RedisServer
) -> None:
    settings = QueueSettings(redis_url=own_redis.url, prefix=prefix, read_timeout_ms=1000)
    client = redis_client(settings)
    registry = WorkerRegistry.from_settings(client, settings)
    # Health, live workers and pauses stay cached: the record's write meets the freeze.
    dispatcher = Dispatcher(
        dsettings,
        store=JobStore.from_settings(client, settings),
        health=RedisHealth(client, cache_s=60),
        workers=LiveWorkers(registry, cache_s=60),
        dramatiq=MemoryDramatiq(),
        temporal=MemoryTemporal(),
        pauses=QueuePauses(client, settings.keys, cache_s=60),
    )
    _beat(registry)
    assert (await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}w")).engine == "dramatiq"
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    os.kill(own_redis.pid, signal.SIGSTOP)  # answers nothing until its read timeout
    try:
        receipt = await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}f")
    finally:
        os.kill(own_redis.pid, signal.SIGCONT)
        ticker.cancel()
    assert (receipt.engine, receipt.reason) == ("temporal", Reason.REDIS_UNAVAILABLE)
    # Other coroutines ran while the dispatch waited on Redis; a blocking
    # Redis call holds the loop for the whole timeout, and none would have.
    assert ticks > 0


def _beat(registry: WorkerRegistry) -> None:
    registry.heartbeat(
        WorkerInfo(worker_id="w", host="h", pid=0, queues=["default"], started_at=time.time())
    )


async def test_same_job_id_twice_is_deduplicated(
    mem_dispatcher: Dispatcher,
    heartbeat: Callable[..., str],
    mem_dramatiq: MemoryDramatiq,
) -> None:
    heartbeat("default")
    first = await mem_dispatcher.dispatch("dsp.ping", {"n": 1}, job_id="d1")
    second = await mem_dispatcher.dispatch("dsp.ping", {"n": 2}, job_id="d1")
    assert first.deduplicated is False
    assert second.model_dump() == {**first.model_dump(), "deduplicated": True}
    assert mem_dramatiq.job_ids == ["d1"]


async def test_dedupe_reports_the_engine_of_a_temporal_routed_job(
    mem_dispatcher: Dispatcher, heartbeat: Callable[..., str], mem_temporal: MemoryTemporal
) -> None:
    first = await mem_dispatcher.dispatch("dsp.ping", {}, job_id="d2")  # no worker yet
    heartbeat("default")
    second = await mem_dispatcher.dispatch("dsp.ping", {}, job_id="d2")
    assert (first.engine, first.reason) == ("temporal", Reason.NO_LIVE_WORKER)
    assert (second.engine, second.reason, second.deduplicated) == (
        "temporal",
        Reason.NO_LIVE_WORKER,
        True,
    )
    assert mem_temporal.start_calls == 1


async def test_both_down_raises_and_leaves_nothing_behind(
    mem_dispatcher: Dispatcher, mem_temporal: MemoryTemporal, store: JobStore
) -> None:
    mem_temporal.fail = ConnectionError("temporal is down")
    with pytest.raises(DispatchUnavailable) as info:
        await mem_dispatcher.dispatch("dsp.ping", {}, job_id="b1")  # no worker, Temporal down
    err = info.value
    assert err.reason == "no_live_worker"
    assert "no live worker" in str(err.dramatiq_cause)
    assert isinstance(err.temporal_cause, ConnectionError)
    assert store.get("b1") is None and store.owner("b1") is None
    assert overdue(store, now=time.time() + 3600) == []
    # The id is free again: a retry once Temporal is back is a fresh dispatch.
    mem_temporal.fail = None
    receipt = await mem_dispatcher.dispatch("dsp.ping", {}, job_id="b1")
    assert (receipt.engine, receipt.deduplicated) == ("temporal", False)


async def test_both_down_after_enqueue_failure_leaves_nothing_behind(
    mem_dispatcher: Dispatcher,
    heartbeat: Callable[..., str],
    mem_dramatiq: MemoryDramatiq,
    mem_temporal: MemoryTemporal,
    store: JobStore,
) -> None:
    heartbeat("default")
    mem_dramatiq.fail = RuntimeError("enqueue broke")
    mem_temporal.fail = ConnectionError("temporal is down")
    with pytest.raises(DispatchUnavailable) as info:
        await mem_dispatcher.dispatch("dsp.ping", {}, job_id="b2")
    assert info.value.reason == "enqueue_failed"
    assert store.get("b2") is None and store.owner("b2") is None
    assert overdue(store, now=time.time() + 3600) == []


@pytest.mark.parametrize(
    ("name", "payload", "error", "needle"),
    [
        ("no.such.job", {}, UnknownJob, "no.such.job"),
        ("dsp.order", {"email": "a@b.c"}, InvalidPayload, "order_id"),
        ("dsp.order", {"order_id": "x", "email": "a@b.c"}, InvalidPayload, "order_id"),
        ("dsp.order", {"order_id": 1, "email": "a"}, InvalidPayload, "email"),
        ("dsp.ping", {"note": "x" * 300_000}, PayloadTooLarge, "JOBRELAY_MAX_PAYLOAD_BYTES"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(
    mem_dispatcher: Dispatcher,
    heartbeat: Callable[..., str],
    mem_dramatiq: MemoryDramatiq,
    mem_temporal: MemoryTemporal,
    store: JobStore,
    name: str,
    payload: dict[str, object],
    error: type[Exception],
    needle: str,
) -> None:
    heartbeat("default")
    with pytest.raises(error, match=needle):
        await mem_dispatcher.dispatch(name, payload, job_id="bad")
    assert mem_dramatiq.sent == [] and mem_temporal.start_calls == 0
    assert store.get("bad") is None


async def test_pickup_timeout_moves_the_job_to_temporal(
    mem_dispatcher: Dispatcher,
    heartbeat: Callable[..., str],
    mem_temporal: MemoryTemporal,
    store: JobStore,
) -> None:
    heartbeat("default")  # a heartbeat but nobody consumes: pickup never happens
    started = time.monotonic()
    receipt = await mem_dispatcher.dispatch("dsp.ping", {}, job_id="p1", confirm="pickup")
    # It waited the 300 ms pickup timeout (a lower bound load cannot break), and
    # then gave up: 3 s is 10x that, and a wait that ignored or misread the
    # timeout (300 ms taken as seconds, say) would not return for minutes.
    assert 0.3 <= time.monotonic() - started < 3
    assert (receipt.engine, receipt.reason) == ("temporal", Reason.PICKUP_TIMEOUT)
    assert store.owner("p1") == "temporal" and list(mem_temporal.workflows) == ["p1"]
    record = store.get("p1")
    assert record is not None and record.reason == "pickup_timeout"
    assert overdue(store, now=time.time() + 3600) == []


async def test_pickup_confirmed_when_a_worker_claims_in_time(
    testjobs: object,
    dsettings: DispatcherSettings,
    health: RedisHealth,
    registry: WorkerRegistry,
    heartbeat: Callable[..., str],
    store: JobStore,
) -> None:
    heartbeat("default")
    # A pickup timeout the claim cannot miss however slowly the claimer thread
    # is scheduled; the dispatch returns as soon as the claim lands.
    patient = dsettings.model_copy(update={"pickup_timeout_ms": 30_000})
    temporal = MemoryTemporal()
    dispatcher = _dispatcher(patient, store, health, registry, MemoryDramatiq(), temporal)

    def worker_claims_soon() -> None:
        time.sleep(0.05)
        assert store.claim("p2", "dramatiq") == "dramatiq"

    claimer = threading.Thread(target=worker_claims_soon)
    claimer.start()
    receipt = await dispatcher.dispatch("dsp.ping", {}, job_id="p2", confirm="pickup")
    claimer.join()
    assert (receipt.engine, receipt.reason) == ("dramatiq", Reason.OK)
    assert temporal.start_calls == 0


async def test_pickup_timeout_with_temporal_down_leaves_the_job_to_dramatiq(
    mem_dispatcher: Dispatcher,
    heartbeat: Callable[..., str],
    mem_temporal: MemoryTemporal,
    store: JobStore,
) -> None:
    heartbeat("default")
    mem_temporal.fail = ConnectionError("temporal is down")
    receipt = await mem_dispatcher.dispatch("dsp.ping", {}, job_id="p3", confirm="pickup")
    # The message is still queued: the job stays Dramatiq's, watched by its deadline.
    assert (receipt.engine, receipt.reason) == ("dramatiq", Reason.OK)
    assert store.owner("p3") is None
    assert overdue(store, now=time.time() + 5.1) == ["p3"]
    assert store.claim("p3", "dramatiq") == "dramatiq"  # a late worker may still run it


async def test_delay_is_passed_on_and_extends_the_deadline(
    mem_dispatcher: Dispatcher,
    heartbeat: Callable[..., str],
    mem_dramatiq: MemoryDramatiq,
    store: JobStore,
) -> None:
    heartbeat("default")
    await mem_dispatcher.dispatch("dsp.ping", {}, job_id="dl", delay=30, confirm="pickup")
    assert mem_dramatiq.sent[0][1] == 30
    assert overdue(store, now=time.time() + 30) == []
    assert overdue(store, now=time.time() + 35.1) == ["dl"]


async def test_one_log_line_per_decision(
    mem_dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="jobrelay.dispatcher"):
        await mem_dispatcher.dispatch("dsp.ping", {}, job_id="log1")
    lines = [r for r in caplog.records if r.name == "jobrelay.dispatcher"]
    assert len(lines) == 1
    line = lines[0]
    assert (line.job_id, line.engine, line.reason) == ("log1", "temporal", "no_live_worker")  # type: ignore[attr-defined]


async def test_concurrent_dispatches_of_one_id_start_one_workflow(
    mem_dispatcher: Dispatcher, mem_temporal: MemoryTemporal
) -> None:
    receipts = await asyncio.gather(
        *(mem_dispatcher.dispatch("dsp.ping", {}, job_id="same") for _ in range(10))
    )
    assert sum(not r.deduplicated for r in receipts) == 1
    assert mem_temporal.start_calls == 1
