"""One service, two engines: every built-in job runs on Dramatiq and on Temporal for real.

Each scenario mocks the job's external HTTP APIs with respx and names the
``ctx.run`` steps it takes. On both engines the test asserts the same result,
the same steps, and that every external call (a step's side effect)
happened exactly as often as the steps ask: once per step.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx
from fake_apis import fake_apis
from jobrelay.devservers import TemporalDevServer
from jobrelay.engines import EngineJob
from jobrelay.engines.dramatiq import DramatiqAdapter, make_broker
from jobrelay.engines.dramatiq.worker import start_worker
from jobrelay.engines.temporal import TemporalAdapter, connect
from jobrelay.engines.temporal.models import STEP_ACTIVITY
from jobrelay.engines.temporal.worker import make_worker
from jobrelay.job_engine import BUILTIN_JOBS_PACKAGE, discover_jobs, get_job
from jobrelay.queue import JobRecord, JobState, JobStore, QueueSettings
from store_peek import load_steps
from temporalio.api.enums.v1 import EventType

BUILTIN = sorted(d.name for d in discover_jobs() if d.ref.startswith(BUILTIN_JOBS_PACKAGE))


@dataclass
class Scenario:
    payload: dict[str, Any]
    steps: set[str]
    sleeps: set[str]
    result: dict[str, Any]
    # (method, url, response json, expected call count)
    calls: list[tuple[str, str, Any, int]] = field(default_factory=list)


def _booking(starts_at: datetime) -> dict[str, Any]:
    return {
        "id": "b1",
        "customer_name": "Ada",
        "email": "ada@example.com",
        "starts_at": starts_at.isoformat(),
        "service": "haircut",
    }


def scenarios() -> dict[str, Scenario]:
    # The reminder is due two seconds from now on both engines: long enough to
    # take the durable-sleep path (Dramatiq parks it), short enough for a test.
    soon = datetime.now(UTC) + timedelta(minutes=60, seconds=2)
    event = {"starts_at": "2030-01-01T09:00:00Z", "ends_at": "2030-01-01T10:00:00Z"}
    return {
        "booking.send_confirmation": Scenario(
            payload={"booking_id": "b1"},
            steps={"load-booking", "send-email"},
            sleeps=set(),
            result={"booking_id": "b1", "email": "ada@example.com", "message_id": "m-1"},
            calls=[
                ("GET", "http://booking.test/bookings/b1", _booking(soon), 1),
                ("POST", "http://email.test/messages", {"message_id": "m-1"}, 1),
            ],
        ),
        "booking.send_reminder": Scenario(
            payload={"booking_id": "b1", "minutes_before": 60},
            steps={"load-booking", "reload-booking", "notify"},
            sleeps={"wait-until-due"},
            result={"booking_id": "b1", "sent": True, "notification_id": "n-1"},
            calls=[
                ("GET", "http://booking.test/bookings/b1", _booking(soon), 2),
                ("POST", "http://notify.test/notifications", {"notification_id": "n-1"}, 1),
            ],
        ),
        "calendar.sync": Scenario(
            payload={"calendar_id": "c1", "page_size": 1},
            steps={"fetch-page-1", "fetch-page-2", "push-busy-slots"},
            sleeps=set(),
            result={
                "calendar_id": "c1",
                "pages": 2,
                "events": 2,
                "busy_slots": 2,
                "truncated": False,
            },
            calls=[
                (
                    "GET",
                    "http://calendar.test/calendars/c1/events?limit=1",
                    {"events": [{"id": "e1", **event}], "next_cursor": "p2", "total": 2},
                    1,
                ),
                (
                    "GET",
                    "http://calendar.test/calendars/c1/events?limit=1&cursor=p2",
                    {"events": [{"id": "e2", **event}], "next_cursor": None, "total": 2},
                    1,
                ),
                ("PUT", "http://booking.test/calendars/c1/busy-slots", {"accepted": 2}, 1),
            ],
        ),
        "demo.countdown": Scenario(
            payload={"start": 2, "pause_s": 0.05},
            steps={"tick-2", "tick-1"},
            sleeps={"pause-2", "pause-1"},
            result={"counted": [2, 1]},
        ),
    }


def test_every_builtin_job_has_a_contract_scenario() -> None:
    assert BUILTIN, "no built-in jobs discovered"
    assert set(BUILTIN) <= set(scenarios())


@pytest.fixture
def api_mock() -> Iterator[respx.MockRouter]:
    with fake_apis(timeout_s=10.0), respx.mock(assert_all_mocked=True) as router:
        yield router


def _mock(router: respx.MockRouter, scenario: Scenario) -> list[tuple[respx.Route, int]]:
    routes = []
    for method, url, body, expected in scenario.calls:
        route = router.request(method, url).respond(200, json=body)
        routes.append((route, expected))
    return routes


def _create(store: JobStore, job_id: str, name: str, payload: dict[str, Any]) -> EngineJob:
    definition = get_job(name)
    data = definition.dump_payload(payload)
    store.create(
        JobRecord(job_id=job_id, name=name, queue=definition.queue, payload=json.dumps(data))
    )
    return EngineJob(job_id=job_id, name=name, queue=definition.queue, payload=data)


def _wait(store: JobStore, job_id: str, timeout_s: float = 60) -> JobRecord:
    deadline = time.monotonic() + timeout_s
    record = None
    while time.monotonic() < deadline:
        record = store.get(job_id)
        if record is not None and record.state.finished:
            return record
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not finish: {record}")


def run_on_dramatiq(
    settings: QueueSettings, store: JobStore, name: str, payload: dict[str, Any]
) -> tuple[Any, set[str]]:
    adapter = DramatiqAdapter(make_broker(settings), store, settings)
    job = _create(store, f"d-{uuid.uuid4().hex}", name, payload)
    worker = start_worker(adapter, [job.queue], threads=2)
    stop = threading.Event()

    def pump() -> None:  # what the worker app's reconciler loop does
        while not stop.wait(0.1):
            adapter.pump_wakeups()

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()
    try:
        adapter.enqueue(job)
        record = _wait(store, job.job_id)
    finally:
        stop.set()
        pumper.join()
        worker.stop(timeout=10_000)
    assert record.state is JobState.SUCCEEDED, record.error
    assert store.owner(job.job_id) == "dramatiq"
    return json.loads(record.result or "null"), set(load_steps(store, job.job_id))


async def run_on_temporal(
    settings: QueueSettings, store: JobStore, address: str, name: str, payload: dict[str, Any]
) -> tuple[Any, set[str]]:
    client = await connect(address)
    job = _create(store, f"t-{uuid.uuid4().hex}", name, payload)
    async with make_worker(client, settings, job.queue, store=store):
        await TemporalAdapter(client, settings).start(job)
        result = await client.get_workflow_handle(job.job_id).result()
        history = await client.get_workflow_handle(job.job_id).fetch_history()
    assert result is not None
    record = await asyncio.to_thread(_wait, store, job.job_id)
    assert record.state is JobState.SUCCEEDED, record.error
    assert store.owner(job.job_id) == "temporal"
    step_ids = {
        e.activity_task_scheduled_event_attributes.activity_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == STEP_ACTIVITY
    }
    return json.loads(record.result or "null"), step_ids


@pytest.mark.parametrize("name", BUILTIN)
async def test_same_service_same_outcome_on_both_engines(
    name: str,
    api_mock: respx.MockRouter,
    queue_settings: QueueSettings,
    store: JobStore,
    temporal_server: TemporalDevServer,
) -> None:
    scenario = scenarios()[name]

    routes = _mock(api_mock, scenario)
    d_result, d_memo = await asyncio.to_thread(
        run_on_dramatiq, queue_settings, store, name, scenario.payload
    )
    for route, expected in routes:
        assert route.call_count == expected, f"dramatiq: {route.pattern} called {route.call_count}"

    api_mock.reset()
    t_result, t_steps = await run_on_temporal(
        queue_settings, store, temporal_server.address, name, scenario.payload
    )
    for route, expected in routes:
        assert route.call_count == expected, f"temporal: {route.pattern} called {route.call_count}"

    assert d_result == t_result == scenario.result
    # Dramatiq memoises run steps and sleep wake times; Temporal schedules one
    # activity per run step (retries do not schedule again).
    assert t_steps == scenario.steps
    assert d_memo == scenario.steps | scenario.sleeps
