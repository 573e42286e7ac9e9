"""The three built-in jobs on a real Dramatiq worker; respx stands in for the external APIs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import httpx
import pytest
import respx
from fake_apis import fake_apis
from jobrelay.engines.dramatiq import DramatiqAdapter
from jobrelay.job_engine import discover_jobs
from jobrelay.queue import JobState, JobStore
from store_peek import load_steps

BOOKING = {
    "id": "b1",
    "customer_name": "Ada",
    "email": "ada@example.com",
    "starts_at": "2030-05-01T09:00:00+00:00",
    "service": "haircut",
}


@pytest.fixture(autouse=True)
def apis() -> Iterator[respx.MockRouter]:
    discover_jobs()
    with fake_apis(timeout_s=10.0), respx.mock(assert_all_called=True) as router:
        yield router


def test_booking_confirmation(
    apis: respx.MockRouter,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    store: JobStore,
) -> None:
    load = apis.get("http://booking.test/bookings/b1").respond(json=BOOKING)
    send = apis.post("http://email.test/messages").respond(201, json={"message_id": "m-1"})
    workers(adapter, ["default"])

    job_id = submit("booking.send_confirmation", {"booking_id": "b1"})
    record = wait_for(job_id, JobState.SUCCEEDED)

    assert json.loads(record.result) == {
        "booking_id": "b1",
        "email": "ada@example.com",
        "message_id": "m-1",
    }
    assert load.call_count == 1 and send.call_count == 1
    assert send.calls.last.request.headers["Idempotency-Key"] == f"{job_id}:confirmation"
    assert set(load_steps(store, job_id)) == {"load-booking", "send-email"}


def test_a_failing_email_api_is_retried_without_reloading_the_booking(
    apis: respx.MockRouter,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
) -> None:
    load = apis.get("http://booking.test/bookings/b1").respond(json=BOOKING)
    send = apis.post("http://email.test/messages").mock(
        side_effect=[httpx.Response(503), httpx.Response(201, json={"message_id": "m-2"})]
    )
    workers(adapter, ["default"])

    job_id = submit("booking.send_confirmation", {"booking_id": "b1"})
    record = wait_for(job_id, JobState.SUCCEEDED)  # after the queue's 1 s backoff

    assert record.attempts == 2
    assert load.call_count == 1 and send.call_count == 2


def test_a_missing_booking_fails_at_once(
    apis: respx.MockRouter,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
) -> None:
    load = apis.get("http://booking.test/bookings/b9").respond(404, text="not found")
    workers(adapter, ["default"])

    record = wait_for(submit("booking.send_confirmation", {"booking_id": "b9"}), JobState.FAILED)

    assert record.attempts == 1 and "answered 404" in (record.error or "")
    assert load.call_count == 1


def _event(i: int) -> dict[str, str]:
    return {
        "id": f"e{i}",
        "starts_at": f"2030-01-01T{i:02d}:00:00+00:00",
        "ends_at": f"2030-01-01T{i:02d}:30:00+00:00",
    }


def test_calendar_sync(
    apis: respx.MockRouter,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    store: JobStore,
) -> None:
    fetched: Counter[str | None] = Counter()

    def pages(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        fetched[cursor] += 1
        nxt = {None: "c2", "c2": "c3", "c3": None}[cursor]
        i = {None: 1, "c2": 3, "c3": 5}[cursor]
        return httpx.Response(
            200, json={"events": [_event(i), _event(i + 1)], "next_cursor": nxt, "total": 6}
        )

    apis.get("http://calendar.test/calendars/cal-1/events").mock(side_effect=pages)
    push = apis.put("http://booking.test/calendars/cal-1/busy-slots").respond(json={"accepted": 6})
    workers(adapter, ["data_sync"])

    job_id = submit("calendar.sync", {"calendar_id": "cal-1", "page_size": 2})
    record = wait_for(job_id, JobState.SUCCEEDED)

    assert json.loads(record.result) == {
        "calendar_id": "cal-1",
        "pages": 3,
        "events": 6,
        "busy_slots": 6,
        "truncated": False,
    }
    assert fetched == {None: 1, "c2": 1, "c3": 1}
    assert push.call_count == 1
    assert len(json.loads(push.calls.last.request.content)["slots"]) == 6
    assert set(load_steps(store, job_id)) == {
        "fetch-page-1",
        "fetch-page-2",
        "fetch-page-3",
        "push-busy-slots",
    }
    assert record.progress == 100 and record.message == "pushed 6 busy slots"


def test_send_reminder_sleeps_for_hours_in_seconds(
    apis: respx.MockRouter,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    until: Callable[..., None],
    clock: Any,
) -> None:
    starts_at = datetime.now(UTC) + timedelta(hours=3)
    load = apis.get("http://booking.test/bookings/b1").respond(
        json={**BOOKING, "starts_at": starts_at.isoformat()}
    )
    notify = apis.post("http://notify.test/notifications").respond(json={"notification_id": "n-1"})
    workers(adapter, ["scheduled"], threads=1)

    job_id = submit("booking.send_reminder", {"booking_id": "b1", "minutes_before": 60})
    parked = wait_for(job_id, JobState.SLEEPING)
    assert parked.wake_at == pytest.approx((starts_at - timedelta(hours=1)).timestamp())
    assert load.call_count == 1 and notify.call_count == 0

    clock.shift = 2 * 3600 + 1
    # "sleeping" is written a moment before the wake-up (state first, by design).
    until(lambda: adapter.pump_wakeups() == 1, what="the wake-up")
    record = wait_for(job_id, JobState.SUCCEEDED)

    assert json.loads(record.result) == {
        "booking_id": "b1",
        "sent": True,
        "notification_id": "n-1",
    }
    assert load.call_count == 2  # load-booking once, reload-booking once
    assert notify.call_count == 1
    assert notify.calls.last.request.headers["Idempotency-Key"] == f"{job_id}:reminder"
