"""get_status and cancel over a real Redis, with in-memory engines."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jobrelay.devservers import free_port
from jobrelay.dispatcher import (
    Dispatcher,
    DispatcherSettings,
    JobNotFound,
    LiveWorkers,
    StatusUnavailable,
)
from jobrelay.dispatcher.testing import MemoryDramatiq, MemoryTemporal
from jobrelay.queue import (
    JobState,
    JobStore,
    QueueSettings,
    RedisHealth,
    WorkerRegistry,
    redis_client,
)
from store_peek import mark_running


async def test_status_of_a_dramatiq_job_comes_from_its_record(
    mem_dispatcher: Dispatcher, heartbeat: Callable[..., str], store: JobStore
) -> None:
    heartbeat("default")
    await mem_dispatcher.dispatch("dsp.ping", {"n": 3}, job_id="s1")
    status = await mem_dispatcher.get_status("s1")
    assert (status.name, status.queue, status.engine, status.state) == (
        "dsp.ping",
        "default",
        "dramatiq",
        "queued",
    )
    assert status.reason == "ok" and status.created_at is not None
    store.claim("s1", "dramatiq")
    mark_running(store, "s1", attempt=1, engine="dramatiq")
    store.set_progress("s1", 40, "halfway")
    store.finish("s1", JobState.SUCCEEDED, result={"n": 3, "runs": 1})
    done = await mem_dispatcher.get_status("s1")
    assert (done.state, done.progress, done.attempts) == ("succeeded", 100, 1)
    assert done.result == {"n": 3, "runs": 1}
    assert done.started_at is not None and done.finished_at is not None


async def test_status_of_a_job_only_temporal_knows(
    mem_dispatcher: Dispatcher, mem_temporal: MemoryTemporal
) -> None:
    from jobrelay.engines import EngineJob

    await mem_temporal.start(EngineJob(job_id="t1", name="dsp.ping", queue="default", payload={}))
    status = await mem_dispatcher.get_status("t1")
    assert (status.engine, status.state, status.name) == ("temporal", "running", "dsp.ping")


async def test_status_of_an_unknown_job(mem_dispatcher: Dispatcher) -> None:
    with pytest.raises(JobNotFound, match="nope"):
        await mem_dispatcher.get_status("nope")


async def test_status_with_both_down_is_unavailable(
    testjobs: object, dsettings: DispatcherSettings
) -> None:
    dead = QueueSettings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = redis_client(dead)
    dispatcher = Dispatcher(
        dsettings,
        store=JobStore.from_settings(client, dead),
        health=RedisHealth.from_settings(client, dead),
        workers=LiveWorkers(WorkerRegistry.from_settings(client, dead)),
        dramatiq=MemoryDramatiq(),
        temporal=MemoryTemporal(fail=ConnectionError("down")),
    )
    with pytest.raises(StatusUnavailable):
        await dispatcher.get_status("x")
    with pytest.raises(StatusUnavailable):
        await dispatcher.cancel("x")


async def test_cancel_before_pickup_cancels_at_once(
    mem_dispatcher: Dispatcher, heartbeat: Callable[..., str], store: JobStore
) -> None:
    heartbeat("default")
    await mem_dispatcher.dispatch("dsp.ping", {}, job_id="c1")
    assert await mem_dispatcher.cancel("c1") is True
    assert (await mem_dispatcher.get_status("c1")).state == "cancelled"
    # The queued message can no longer run it: its worker would lose the claim.
    assert store.claim("c1", "dramatiq") == "temporal"
    assert await mem_dispatcher.cancel("c1") is False  # already finished


async def test_cancel_of_a_running_dramatiq_job_sets_the_flag(
    mem_dispatcher: Dispatcher,
    heartbeat: Callable[..., str],
    store: JobStore,
    mem_temporal: MemoryTemporal,
) -> None:
    heartbeat("default")
    await mem_dispatcher.dispatch("dsp.ping", {}, job_id="c2")
    store.claim("c2", "dramatiq")
    assert await mem_dispatcher.cancel("c2") is True
    assert store.cancel_requested("c2")
    assert mem_temporal.workflows == {}


async def test_cancel_of_a_temporal_job_cancels_the_workflow(
    mem_dispatcher: Dispatcher, mem_temporal: MemoryTemporal, store: JobStore
) -> None:
    await mem_dispatcher.dispatch("dsp.ping", {}, job_id="c3")  # no worker: Temporal
    assert await mem_dispatcher.cancel("c3") is True
    assert mem_temporal.workflows["c3"].state == "cancelled"
    assert store.cancel_requested("c3")


async def test_cancel_of_a_job_without_record_goes_to_temporal(
    mem_dispatcher: Dispatcher, mem_temporal: MemoryTemporal
) -> None:
    from jobrelay.engines import EngineJob

    await mem_temporal.start(EngineJob(job_id="c4", name="dsp.ping", queue="default", payload={}))
    assert await mem_dispatcher.cancel("c4") is True
    assert await mem_dispatcher.cancel("c4") is False  # closed workflow
    with pytest.raises(JobNotFound):
        await mem_dispatcher.cancel("never-dispatched")
