from __future__ import annotations

from datetime import UTC, datetime

import httpx
import respx
from jobrelay.job_engine.jobs.scheduled.send_reminder import ReminderOut
from jobrelay.job_engine.testing import LocalContext, run_local

NOW = datetime(2030, 5, 1, 6, 0, tzinfo=UTC)
BOOKING = {
    "id": "b1",
    "customer_name": "Ada",
    "email": "ada@example.com",
    "starts_at": "2030-05-01T09:00:00+00:00",
}


@respx.mock
async def test_sleeps_until_an_hour_before_then_notifies() -> None:
    respx.get("http://booking.test/bookings/b1").respond(json=BOOKING)
    notify = respx.post("http://notify.test/notifications").respond(json={"notification_id": "n1"})
    ctx = LocalContext("rem-1", now=NOW)

    out = await run_local("booking.send_reminder", {"booking_id": "b1"}, ctx)

    assert out == ReminderOut(booking_id="b1", sent=True, notification_id="n1")
    assert ctx.sleeps == [("wait-until-due", 2 * 3600.0)]
    assert ctx.steps == ["load-booking", "reload-booking", "notify"]
    assert notify.calls.last.request.headers["Idempotency-Key"] == "rem-1:reminder"


@respx.mock
async def test_no_reminder_for_a_booking_cancelled_during_the_wait() -> None:
    respx.get("http://booking.test/bookings/b1").mock(
        side_effect=[
            httpx.Response(200, json=BOOKING),
            httpx.Response(200, json={**BOOKING, "status": "cancelled"}),
        ]
    )
    notify = respx.post("http://notify.test/notifications").respond(json={"notification_id": "n1"})

    out = await run_local(
        "booking.send_reminder", {"booking_id": "b1", "minutes_before": 30}, LocalContext(now=NOW)
    )

    assert out == ReminderOut(booking_id="b1", sent=False)
    assert notify.call_count == 0


@respx.mock
async def test_a_due_time_in_the_past_does_not_wait() -> None:
    respx.get("http://booking.test/bookings/b1").respond(json=BOOKING)
    respx.post("http://notify.test/notifications").respond(json={"notification_id": "n2"})
    ctx = LocalContext(now=datetime(2030, 5, 1, 8, 45, tzinfo=UTC))

    out = await run_local("booking.send_reminder", {"booking_id": "b1"}, ctx)

    assert out.sent is True
    assert ctx.sleeps == [("wait-until-due", 0.0)]
