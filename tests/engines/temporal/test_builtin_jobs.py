"""The built-in jobs run on Temporal; respx answers their HTTP APIs inside the activity worker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import respx
from fake_apis import BOOKING_API, CALENDAR_API, EMAIL_API, NOTIFY_API, fake_apis
from jobrelay.engines import EngineJob
from jobrelay.engines.temporal import TemporalAdapter
from jobrelay.queue import JobState, JobStore, QueueSettings
from temporal_adapter_support import StartWorker, handle
from temporalio.client import Client
from temporalio.testing import TimeSkipper


@pytest.fixture(autouse=True)
def api_urls() -> Iterator[None]:
    with fake_apis():
        yield


def booking(starts_at: datetime) -> dict[str, str]:
    return {
        "id": "b1",
        "customer_name": "Ada",
        "email": "ada@example.com",
        "starts_at": starts_at.isoformat(),
        "service": "haircut",
    }


async def run_job(
    client: Client, settings: QueueSettings, name: str, queue: str, payload: dict[str, object]
) -> tuple[EngineJob, object]:
    # Time skipping lets the reminder's wait pass at once; the others never sleep.
    adapter = TemporalAdapter(TimeSkipper(client).client, settings)
    job = EngineJob(
        job_id=f"{name}-{uuid.uuid4().hex[:8]}", name=name, queue=queue, payload=payload
    )
    await adapter.start(job)
    return job, (await handle(client, job.job_id).result()).result


@respx.mock
async def test_booking_confirmation(
    client: Client, start_worker: StartWorker, queue_settings: QueueSettings, store: JobStore
) -> None:
    load = respx.get(f"{BOOKING_API}/bookings/b1").respond(
        json=booking(datetime(2030, 5, 1, 9, tzinfo=UTC))
    )
    send = respx.post(f"{EMAIL_API}/messages").respond(201, json={"message_id": "m-1"})
    await start_worker(queue_settings, store, queue="default")

    job, result = await run_job(
        client, queue_settings, "booking.send_confirmation", "default", {"booking_id": "b1"}
    )

    assert result == {"booking_id": "b1", "email": "ada@example.com", "message_id": "m-1"}
    assert load.call_count == 1 and send.call_count == 1
    assert send.calls.last.request.headers["Idempotency-Key"] == f"{job.job_id}:confirmation"
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.SUCCEEDED


@respx.mock
async def test_calendar_sync_pages_and_pushes_once(
    client: Client, start_worker: StartWorker, queue_settings: QueueSettings, store: JobStore
) -> None:
    event = {"starts_at": "2030-05-01T09:00:00Z", "ends_at": "2030-05-01T10:00:00Z"}
    pages = respx.get(f"{CALENDAR_API}/calendars/c1/events").mock(
        side_effect=[
            respx.MockResponse(
                json={"events": [{"id": "e1", **event}], "next_cursor": "p2", "total": 2}
            ),
            respx.MockResponse(
                json={"events": [{"id": "e2", **event}], "next_cursor": None, "total": 2}
            ),
        ]
    )
    push = respx.put(f"{BOOKING_API}/calendars/c1/busy-slots").respond(json={"accepted": 2})
    await start_worker(queue_settings, store, queue="data_sync")

    job, result = await run_job(
        client, queue_settings, "calendar.sync", "data_sync", {"calendar_id": "c1", "page_size": 1}
    )

    assert result == {
        "calendar_id": "c1",
        "pages": 2,
        "events": 2,
        "busy_slots": 2,
        "truncated": False,
    }
    assert pages.call_count == 2 and push.call_count == 1
    assert len(json.loads(push.calls.last.request.content)["slots"]) == 2
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.message == "pushed 2 busy slots"


@respx.mock
async def test_reminder_sleeps_until_due_then_notifies_once(
    client: Client, start_worker: StartWorker, queue_settings: QueueSettings, store: JobStore
) -> None:
    starts_at = datetime.now(UTC) + timedelta(hours=3)
    load = respx.get(f"{BOOKING_API}/bookings/b1").respond(json=booking(starts_at))
    notify = respx.post(f"{NOTIFY_API}/notifications").respond(json={"notification_id": "n1"})
    await start_worker(queue_settings, store, queue="scheduled")

    job, result = await run_job(
        client, queue_settings, "booking.send_reminder", "scheduled", {"booking_id": "b1"}
    )

    assert result == {"booking_id": "b1", "sent": True, "notification_id": "n1"}
    assert load.call_count == 2 and notify.call_count == 1
    record = store.get(job.job_id)
    assert record is not None and record.state is JobState.SUCCEEDED
