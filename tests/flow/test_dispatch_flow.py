"""Flow control at dispatch: uniqueness windows on both engine paths and in batches,
priorities on Dramatiq (a worker takes waiting high-priority jobs first)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from types import ModuleType

import pytest
from flow_test_support import Spans
from jobrelay.devservers import TemporalDevServer
from jobrelay.dispatcher import (
    Dispatcher,
    DispatcherSettings,
    InvalidDispatch,
    JobFlow,
    LiveWorkers,
)
from jobrelay.dispatcher.fast_enqueue import DramatiqMessages
from jobrelay.engines.dramatiq import DramatiqAdapter, DramatiqKeys, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.engines.temporal import TemporalAdapter, connect
from jobrelay.job_engine import InvalidPayload
from jobrelay.queue import (
    FlowGate,
    JobStore,
    QueuePauses,
    QueueSettings,
    RedisHealth,
    Verdict,
    WorkerInfo,
    WorkerRegistry,
)


async def _dispatcher(
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_server: TemporalDevServer,
    *,
    use_dramatiq: bool = True,
) -> tuple[Dispatcher, DramatiqAdapter]:
    adapter = DramatiqAdapter(make_broker(queue_settings), store, queue_settings)
    registry = WorkerRegistry.from_settings(store.client, queue_settings)
    # A live worker for ``default``, as a worker app's heartbeat says: Dramatiq takes jobs.
    registry.heartbeat(
        WorkerInfo(
            worker_id=uuid.uuid4().hex[:8],
            host=socket.gethostname(),
            pid=os.getpid(),
            queues=["default"],
            started_at=time.time(),
        )
    )
    dispatcher = Dispatcher(
        DispatcherSettings(use_dramatiq=use_dramatiq, live_worker_cache_ms=0),
        store=store,
        health=RedisHealth.from_settings(store.client, queue_settings),
        workers=LiveWorkers(registry, cache_s=0),
        dramatiq=adapter,
        temporal=TemporalAdapter(await connect(temporal_server.address), queue_settings),
        messages=DramatiqMessages(adapter),
    )
    return dispatcher, adapter


@pytest.mark.parametrize("engine", ["dramatiq", "temporal"])
async def test_a_second_dispatch_inside_the_window_is_deduplicated_and_one_after_it_is_not(
    flowjobs: ModuleType,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_server: TemporalDevServer,
    run_id: str,
    engine: str,
) -> None:
    dispatcher, _ = await _dispatcher(
        queue_settings, store, temporal_server, use_dramatiq=engine == "dramatiq"
    )
    payload = {"run": run_id, "key": "booking-7"}
    first = await dispatcher.dispatch("flowt.unique", payload)
    assert first.engine == engine and not first.deduplicated
    # The same key, another payload otherwise: the first job's receipt, flagged.
    second = await dispatcher.dispatch("flowt.unique", {**payload, "label": "again"})
    assert second.deduplicated and second.job_id == first.job_id
    assert second.engine == first.engine and second.reason == first.reason
    # Another key has its own window.
    other = await dispatcher.dispatch("flowt.unique", {**payload, "key": "booking-8"})
    assert not other.deduplicated and other.job_id != first.job_id
    # Three seconds on the window is over: a new job.
    ttl_ms = store.client.pttl(store.keys.flow_unique("flowt.unique", "booking-7"))
    assert 0 < ttl_ms <= 3000
    await asyncio.sleep(ttl_ms / 1000 + 0.1)
    later = await dispatcher.dispatch("flowt.unique", payload)
    assert not later.deduplicated and later.job_id != first.job_id
    assert store.get(later.job_id) is not None


async def test_a_batch_deduplicates_within_itself_and_against_the_window(
    flowjobs: ModuleType,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_server: TemporalDevServer,
    run_id: str,
) -> None:
    dispatcher, _ = await _dispatcher(queue_settings, store, temporal_server)
    before = await dispatcher.dispatch("flowt.unique", {"run": run_id, "key": "a"})
    results = await dispatcher.dispatch_many(
        [{"name": "flowt.unique", "payload": {"run": run_id, "key": k}} for k in "abbc"]
    )
    receipts = [r.receipt for r in results]
    assert all(r is not None for r in receipts)
    a, b1, b2, c = (r for r in receipts if r is not None)
    assert a.deduplicated and a.job_id == before.job_id
    assert not b1.deduplicated and b2.deduplicated and b2.job_id == b1.job_id
    assert not c.deduplicated


async def test_bad_priorities_and_unreadable_keys_are_refused_naming_them(
    flowjobs: ModuleType,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_server: TemporalDevServer,
    run_id: str,
) -> None:
    dispatcher, _ = await _dispatcher(queue_settings, store, temporal_server)
    for bad in ("urgent", 0, 9):
        with pytest.raises(InvalidDispatch) as caught:
            await dispatcher.dispatch("flowt.plain", {"run": run_id}, priority=bad)
        assert caught.value.loc == ("priority",)
    results = await dispatcher.dispatch_many(
        [{"name": "flowt.plain", "payload": {"run": run_id}, "priority": "soon"}]
    )
    error = results[0].error
    assert isinstance(error, InvalidDispatch) and error.loc == ("jobs", 0, "priority")
    with pytest.raises(InvalidPayload, match="concurrency_key"):
        await dispatcher.dispatch("flowt.keyed_by_function", {"run": run_id, "key": ""})


@pytest.mark.timeout(120)
async def test_with_200_low_then_20_high_queued_the_high_ones_start_first_on_dramatiq(
    flowjobs: ModuleType,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_server: TemporalDevServer,
    spans: Spans,
    run_id: str,
) -> None:
    dispatcher, adapter = await _dispatcher(queue_settings, store, temporal_server)
    pauses = QueuePauses(store.client, store.keys)
    pauses.pause("default")  # everything waits, queued, until the worker starts
    low = [
        await dispatcher.dispatch("flowt.plain", {"run": run_id, "label": "low"}, priority="low")
        for _ in range(200)
    ]
    high = [
        await dispatcher.dispatch("flowt.plain", {"run": run_id, "label": "high"}, priority=1)
        for _ in range(20)
    ]
    assert {r.engine for r in low + high} == {"dramatiq"}
    keys = DramatiqKeys(adapter.broker.namespace)
    assert store.client.llen(keys.lane("default", 5)) == 200
    assert store.client.llen(keys.lane("default", 1)) == 20
    assert store.get(high[0].job_id).extra["priority"] == "1"  # type: ignore[union-attr]
    # One worker thread: jobs start one after another, in the order taken.
    worker = start_worker(adapter, ["default"], threads=1)
    try:
        pauses.resume("default")
        found = await spans.until(220, 90)
    finally:
        await asyncio.to_thread(worker.stop, 10_000)
    order = [s["label"] for s in sorted(found, key=lambda s: s["start"])]
    assert order == ["high"] * 20 + ["low"] * 200


async def test_the_job_detail_the_queue_view_and_metrics_show_flow_control(
    flowjobs: ModuleType,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_server: TemporalDevServer,
    run_id: str,
) -> None:
    from jobrelay.web.queue_stats import read_queues
    from jobrelay.web.scrape import redis_metrics

    dispatcher, _ = await _dispatcher(queue_settings, store, temporal_server)
    QueuePauses(store.client, store.keys).pause("default")  # nothing runs: the jobs stay queued
    receipt = await dispatcher.dispatch(
        "flowt.limited", {"run": run_id, "key": "cal-9"}, priority="high"
    )
    plain = await dispatcher.dispatch("flowt.plain", {"run": run_id})
    # Two others hold the key's slots; the job is told to wait for one, as a worker would be.
    gate = FlowGate(store.client, store.keys)
    for holder in ("h1", "h2"):
        slot = gate.slot("flowt.limited", "cal-9", holder, "dramatiq", 2)
        assert (
            gate.enter("flowt.limited", holder, "dramatiq", slot=slot).verdict is Verdict.ADMITTED
        )
    mine = gate.slot("flowt.limited", "cal-9", receipt.job_id, "dramatiq", 2)
    assert gate.enter("flowt.limited", receipt.job_id, "dramatiq", slot=mine).verdict is (
        Verdict.WAIT
    )

    detail = await dispatcher.get_detail(receipt.job_id)
    assert detail.flow == JobFlow(
        priority=1,
        concurrency_limit=2,
        concurrency_key="cal-9",
        waiting_for="slot",
    )
    assert (await dispatcher.get_detail(plain.job_id)).flow is None

    (view,) = await asyncio.to_thread(read_queues, dispatcher, ["default"])
    assert view.ready == 2 and view.ready_by_priority == {"1": 1, "3": 1}
    flows = {f.job: f for f in view.flow}
    assert flows["flowt.limited"].concurrency_limit == 2
    assert flows["flowt.limited"].waiting == 1 and flows["flowt.limited"].throttled == 0
    assert flows["flowt.paced"].rate_limit == "10/s"
    assert flows["flowt.unique"].unique_for_s == 3
    assert "flowt.plain" not in flows

    text = (await asyncio.to_thread(redis_metrics, dispatcher)).decode()
    assert 'jobrelay_flow_waiting_jobs{job="flowt.limited",queue="default"} 1.0' in text
    assert 'jobrelay_flow_throttled_jobs{job="flowt.paced",queue="default"} 0.0' in text
    assert 'jobrelay_queue_messages{kind="ready",queue="default"} 2.0' in text


@pytest.mark.timeout(60)
async def test_a_job_waiting_for_a_slot_on_dramatiq_stays_there_past_its_pickup_deadline(
    flowjobs: ModuleType,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_server: TemporalDevServer,
    spans: Spans,
    run_id: str,
) -> None:
    dispatcher, adapter = await _dispatcher(queue_settings, store, temporal_server)
    gate = FlowGate(store.client, store.keys)
    holders = [gate.slot("flowt.limited", "busy", h, "temporal", 2) for h in ("h1", "h2")]
    for holder in holders:
        assert gate.enter("flowt.limited", holder.member, "temporal", slot=holder).verdict is (
            Verdict.ADMITTED
        )
    receipt = await dispatcher.dispatch("flowt.limited", {"run": run_id, "key": "busy"})
    assert store.client.zscore(store.keys.pending, receipt.job_id) is not None
    worker = start_worker(adapter, ["default"], threads=2)
    try:
        deadline = time.monotonic() + 30
        while (record := store.get(receipt.job_id)) is None or "waiting_for" not in record.extra:
            assert time.monotonic() < deadline, f"never told to wait: {record}"
            await asyncio.sleep(0.05)
        # Told to wait, it is Dramatiq's: out of the pending set, so no reconciler
        # moves it to Temporal when its pickup deadline passes.
        assert store.owner(receipt.job_id) == "dramatiq"
        assert store.client.zscore(store.keys.pending, receipt.job_id) is None
        assert record.state.value == "queued" and spans() == []
        for holder in holders:
            gate.leave(holder)
        await spans.until(1, 30)
    finally:
        await asyncio.to_thread(worker.stop, 10_000)
    (span,) = spans()
    assert span["job_id"] == receipt.job_id and span["engine"] == "dramatiq"
