"""The reconciler's decisions over a real Redis, with an in-memory Temporal."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from jobrelay.dispatcher import Reconciler
from jobrelay.dispatcher.testing import MemoryTemporal
from jobrelay.queue import JobRecord, JobState, JobStore
from store_peek import add_pending, overdue


def _pending(store: JobStore, job_id: str, *, deadline: float) -> None:
    record = JobRecord(
        job_id=job_id,
        name="dsp.ping",
        queue="default",
        engine="dramatiq",
        reason="ok",
        payload=json.dumps({"n": 7, "note": ""}),
    )
    assert store.create(record, pickup_deadline=deadline)


async def test_moves_overdue_unclaimed_jobs_to_temporal(store: JobStore) -> None:
    temporal = MemoryTemporal()
    _pending(store, "late", deadline=time.time() - 1)
    _pending(store, "early", deadline=time.time() + 60)
    report = await Reconciler(store, temporal).run_once()
    assert report.moved == 1
    assert list(temporal.workflows) == ["late"]
    job = temporal.workflows["late"].job
    assert (job.name, job.queue, job.payload) == ("dsp.ping", "default", {"n": 7, "note": ""})
    assert store.owner("late") == "temporal"
    record = store.get("late")
    assert record is not None and (record.engine, record.reason) == ("temporal", "pickup_timeout")
    assert overdue(store, now=time.time() + 30) == []  # confirmed; "early" not yet due
    assert overdue(store, now=time.time() + 61) == ["early"]


async def test_leaves_jobs_a_worker_claimed(store: JobStore) -> None:
    temporal = MemoryTemporal()
    _pending(store, "taken", deadline=time.time() - 1)
    # A worker's claim between the overdue read and the reconciler's claim.
    store.client.set(store.keys.owner("taken"), "dramatiq")
    report = await Reconciler(store, temporal).run_once()
    assert report.picked_up == 1 and temporal.start_calls == 0
    assert overdue(store, now=time.time() + 3600) == []


async def test_repairs_a_temporal_claim_whose_start_was_lost(store: JobStore) -> None:
    temporal = MemoryTemporal()
    _pending(store, "lost", deadline=time.time() + 60)
    # A dispatcher won the claim (leased for 0.1 s) and died before starting.
    assert store.claim("lost", "temporal") == "temporal"
    add_pending(store, "lost", time.time() - 0.1)
    report = await Reconciler(store, temporal).run_once()
    assert report.repaired == 1 and list(temporal.workflows) == ["lost"]
    assert overdue(store, now=time.time() + 3600) == []


async def test_failed_start_is_retried_after_the_lease(store: JobStore) -> None:
    temporal = MemoryTemporal(fail=ConnectionError("temporal down"))
    _pending(store, "retry", deadline=time.time() - 1)
    reconciler = Reconciler(store, temporal, lease_s=0.2)
    # Passes at given instants, not after real pauses: "not yet" cannot turn
    # into "already" on a slow machine. The lease runs from the failed start.
    now = time.time()
    assert (await reconciler.run_once(now=now)).failed == 1
    assert (await reconciler.run_once(now=now)).failed == 0  # leased: not tried again yet
    temporal.fail = None
    report = await reconciler.run_once(now=time.time() + 0.25)  # the lease is over
    assert report.moved == 1 and list(temporal.workflows) == ["retry"]
    assert overdue(store, now=time.time() + 3600) == []


async def test_failed_start_gives_the_job_back_to_dramatiq(store: JobStore) -> None:
    temporal = MemoryTemporal(fail=ConnectionError("temporal down"))
    _pending(store, "back", deadline=time.time() - 1)
    now = time.time()  # given instants, as above: no slow machine in between
    assert (await Reconciler(store, temporal, lease_s=5).run_once(now=now)).failed == 1
    # Unclaimed again, still watched: a worker that turns up now may run it.
    assert store.owner("back") is None
    assert overdue(store, now=now + 4) == []
    assert overdue(store, now=now + 6) == ["back"]
    assert store.claim("back", "dramatiq") == "dramatiq"


async def test_drops_finished_and_vanished_jobs(store: JobStore) -> None:
    temporal = MemoryTemporal()
    _pending(store, "done", deadline=time.time() + 60)
    store.update("done", state=JobState.SUCCEEDED)  # finished, still pending (no finish())
    add_pending(store, "done", time.time() - 1)
    add_pending(store, "ghost", time.time() - 1)  # no record at all
    report = await Reconciler(store, temporal).run_once()
    assert report.dropped == 2 and temporal.start_calls == 0
    assert overdue(store, now=time.time() + 3600) == []


async def test_cancelled_before_start_is_finished_not_started(store: JobStore) -> None:
    temporal = MemoryTemporal()
    _pending(store, "cx", deadline=time.time() - 1)
    assert store.request_cancel("cx")
    await Reconciler(store, temporal).run_once()
    assert temporal.start_calls == 0
    record = store.get("cx")
    assert record is not None and record.state is JobState.CANCELLED


async def test_many_reconcilers_start_each_job_once(store: JobStore) -> None:
    temporal = MemoryTemporal()
    ids = [f"j{i}" for i in range(150)]
    for job_id in ids:
        _pending(store, job_id, deadline=time.time() - 1)
    reconcilers = [Reconciler(store, temporal, batch=40) for _ in range(5)]
    reports = await asyncio.gather(*(r.run_once() for r in reconcilers))
    assert sum(r.moved for r in reports) == 150
    assert sorted(temporal.workflows) == sorted(ids)
    assert temporal.start_calls == 150
    assert all(wf.starts == 1 for wf in temporal.workflows.values())


async def test_run_forever_stops_when_asked(store: JobStore) -> None:
    temporal = MemoryTemporal()
    stop = asyncio.Event()
    task = asyncio.create_task(Reconciler(store, temporal).run_forever(stop, interval_s=0.05))
    _pending(store, "bg", deadline=time.time() - 1)
    for _ in range(250):
        if "bg" in temporal.workflows:
            break
        await asyncio.sleep(0.02)
    stop.set()
    # Stops at once (after the pass under way); one that ignored the event never would.
    await asyncio.wait_for(task, timeout=10)
    assert "bg" in temporal.workflows


async def test_pumps_wakeups_when_given(store: JobStore) -> None:
    calls: list[int] = []

    def pump() -> int:
        calls.append(1)
        return 3

    report = await Reconciler(store, MemoryTemporal(), pump_wakeups=pump).run_once()
    assert report.woken == 3 and calls == [1]


@pytest.mark.parametrize("owner", ["temporal", None])
async def test_owner_temporal_without_record_is_dropped(store: JobStore, owner: str | None) -> None:
    temporal = MemoryTemporal()
    if owner:
        store.client.set(store.keys.owner("orphan"), owner)
    add_pending(store, "orphan", time.time() - 1)
    report = await Reconciler(store, temporal).run_once()
    assert report.dropped == 1 and temporal.start_calls == 0
