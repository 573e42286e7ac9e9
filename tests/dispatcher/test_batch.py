"""dispatch_many on real Redis, Dramatiq and Temporal: order, bad items in place, one round trip."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from jobrelay.devservers import RedisServer, free_port
from jobrelay.dispatcher import (
    DispatcherSettings,
    DispatchUnavailable,
    InvalidDispatch,
    InvalidPayload,
    JobRequest,
    LiveWorkers,
    PayloadTooLarge,
    Reason,
    TemporalLink,
    UnknownJob,
)
from jobrelay.queue import QueuePauses, QueueSettings, RedisHealth

# The Stack of conftest.py (a conftest cannot be imported under --import-mode=importlib).
Stack = Any


async def test_results_come_in_order_with_each_bad_item_in_its_place(
    stack: Stack, runs: Callable[[str], list[str]], prefix: str
) -> None:
    stack.start_dramatiq()
    await stack.start_temporal()
    dispatcher = stack.dispatcher(
        settings=stack.settings.model_copy(update={"max_payload_bytes": 200})
    )
    jobs: list[JobRequest | dict[str, Any]] = [
        {"name": "dsp.ping", "payload": {"n": 0}, "job_id": f"{prefix}a"},
        {"name": "dsp.nope", "payload": {}},
        JobRequest(name="dsp.order", payload={"order_id": 1, "email": "x"}),
        {"name": "dsp.ping", "payload": {"n": 3}, "job_id": f"{prefix}b"},
        {"name": "dsp.ping", "payload": {}, "delay": -1},
        {"name": "dsp.ping", "payload": {"note": "x" * 500}},
        {"payload": {}},
        {"name": "dsp.ping", "payload": {"n": 7}, "job_id": f"{prefix}c"},
    ]
    results = await dispatcher.dispatch_many(jobs)

    assert [r.index for r in results] == list(range(len(jobs)))
    assert [r.ok for r in results] == [True, False, False, True, False, False, False, True]
    assert [r.receipt.job_id for r in results if r.receipt] == [f"{prefix}{x}" for x in "abc"]
    assert {(r.receipt.engine, r.receipt.reason) for r in results if r.receipt} == {
        ("dramatiq", Reason.OK)
    }
    errors = [r.error for r in results]
    assert isinstance(errors[1], UnknownJob)
    assert isinstance(errors[2], InvalidPayload) and errors[2].errors[0]["loc"] == ("email",)
    assert isinstance(errors[4], InvalidDispatch) and errors[4].loc == ("jobs", 4, "delay")
    assert isinstance(errors[5], PayloadTooLarge)
    assert isinstance(errors[6], InvalidDispatch) and errors[6].loc == ("jobs", 6, "name")
    await stack.wait_finished(*(f"{prefix}{x}" for x in "abc"))
    assert {x: runs(f"{prefix}{x}") for x in "abc"} == {x: ["dramatiq"] for x in "abc"}


async def test_the_dramatiq_items_of_a_batch_cost_one_round_trip(
    stack: Stack, prefix: str, count_redis_calls: Callable[..., list[None]]
) -> None:
    stack.start_heartbeat()  # a live worker; nothing consumes
    # Health and the live-worker count answered from cache: the batch's own calls only.
    dispatcher = stack.dispatcher(
        health=RedisHealth(stack.client, cache_s=600),
        workers=LiveWorkers(stack.registry, cache_s=600),
        pauses=QueuePauses(stack.client, stack.store.keys, cache_s=600),
    )
    await dispatcher.dispatch("dsp.ping", {}, job_id=f"{prefix}warm")
    calls = count_redis_calls(stack.client, this_thread_only=True)
    jobs = [{"name": "dsp.ping", "payload": {"n": i}, "job_id": f"{prefix}{i}"} for i in range(50)]
    results = await dispatcher.dispatch_many(jobs)
    assert all(r.receipt is not None and r.receipt.engine == "dramatiq" for r in results)
    assert len(calls) == 1
    # Every record, pending entry and message landed in that one.
    assert all(stack.store.get(f"{prefix}{i}") is not None for i in range(50))
    assert stack.queued_messages() == 51


async def test_a_job_id_twice_in_a_batch_and_again_in_the_next_runs_once(
    stack: Stack, runs: Callable[[str], list[str]], prefix: str
) -> None:
    stack.start_dramatiq()
    dispatcher = stack.dispatcher()
    twice = {"name": "dsp.ping", "payload": {"n": 1}, "job_id": f"{prefix}twice"}
    first = await dispatcher.dispatch_many([twice, {**twice, "payload": {"n": 2}}])
    assert [r.receipt.deduplicated for r in first if r.receipt] == [False, True]
    assert first[0].receipt is not None and first[1].receipt is not None
    assert first[1].receipt.engine == first[0].receipt.engine == "dramatiq"
    again = await dispatcher.dispatch_many([twice])
    assert again[0].receipt is not None and again[0].receipt.deduplicated
    await stack.wait_finished(f"{prefix}twice")
    await stack.drained()
    assert runs(f"{prefix}twice") == ["dramatiq"]


async def test_with_redis_down_the_whole_batch_runs_on_temporal_once(
    make_stack: Callable[..., Stack],
    own_redis: RedisServer,
    prefix: str,
    runs: Callable[[str], list[str]],
) -> None:
    stack = make_stack(QueueSettings(redis_url=own_redis.url, prefix=prefix))
    stack.start_heartbeat()
    dispatcher = stack.dispatcher()
    own_redis.stop()
    ids = [f"{prefix}down{i}" for i in range(5)]
    results = await dispatcher.dispatch_many(
        [{"name": "dsp.ping", "payload": {}, "job_id": job_id} for job_id in ids]
    )
    assert [(r.receipt.engine, r.receipt.reason) for r in results if r.receipt] == [
        ("temporal", Reason.REDIS_UNAVAILABLE)
    ] * 5
    await stack.start_temporal()
    for job_id in ids:
        assert (await stack.outcome(job_id)).duplicate_of is None
    assert {job_id: runs(job_id) for job_id in ids} == {job_id: ["temporal"] for job_id in ids}


async def test_items_dramatiq_cannot_take_start_on_temporal_and_a_failed_start_is_per_item(
    stack: Stack, runs: Callable[[str], list[str]], dsettings: DispatcherSettings, prefix: str
) -> None:
    await stack.start_temporal()
    off = stack.dispatcher(dsettings.model_copy(update={"use_dramatiq": False}))
    ids = [f"{prefix}off{i}" for i in range(10)]
    results = await off.dispatch_many([{"name": "dsp.ping", "job_id": job_id} for job_id in ids])
    assert [(r.receipt.engine, r.receipt.reason) for r in results if r.receipt] == [
        ("temporal", Reason.FLAG_OFF)
    ] * 10
    for job_id in ids:
        await stack.outcome(job_id)
    assert {job_id: runs(job_id) for job_id in ids} == {job_id: ["temporal"] for job_id in ids}

    nowhere = dsettings.model_copy(
        update={"use_dramatiq": False, "temporal_address": f"127.0.0.1:{free_port()}"}
    )
    lost = stack.dispatcher(
        nowhere, temporal=TemporalLink.connecting(nowhere, stack.queue_settings)
    )
    refused = [f"{prefix}refused{i}" for i in range(3)]
    results = await lost.dispatch_many(
        [{"name": "dsp.ping", "job_id": job_id} for job_id in refused]
    )
    assert all(isinstance(r.error, DispatchUnavailable) for r in results)
    assert [r.error.job_id for r in results if isinstance(r.error, DispatchUnavailable)] == refused
    # Nothing was accepted, so nothing is left behind to run later.
    assert [stack.store.get(job_id) for job_id in refused] == [None] * 3


async def test_a_batch_over_the_limit_is_refused_whole(
    stack: Stack, dsettings: DispatcherSettings
) -> None:
    dispatcher = stack.dispatcher(dsettings.model_copy(update={"max_batch_size": 3}))
    with pytest.raises(InvalidDispatch) as refused:
        await dispatcher.dispatch_many([{"name": "dsp.ping"}] * 4)
    assert refused.value.loc == ("jobs",)
    assert not isinstance(refused.value, DispatchUnavailable)
