from __future__ import annotations

import json

import httpx
import pytest
import respx
from jobrelay.job_engine import PermanentError
from jobrelay.job_engine.jobs.api import ApiError
from jobrelay.job_engine.jobs.default.booking_confirmation import ConfirmationOut
from jobrelay.job_engine.testing import LocalContext, run_local

BOOKING = {
    "id": "b1",
    "customer_name": "Ada",
    "email": "ada@example.com",
    "starts_at": "2030-05-01T09:00:00+00:00",
    "service": "haircut",
}


@respx.mock
async def test_loads_the_booking_and_sends_one_email() -> None:
    load = respx.get("http://booking.test/bookings/b1").respond(json=BOOKING)
    send = respx.post("http://email.test/messages").respond(201, json={"message_id": "m-1"})
    ctx = LocalContext("job-1")

    out = await run_local("booking.send_confirmation", {"booking_id": "b1", "locale": "fr"}, ctx)

    assert out == ConfirmationOut(booking_id="b1", email="ada@example.com", message_id="m-1")
    assert ctx.steps == ["load-booking", "send-email"]
    assert load.call_count == 1 and send.call_count == 1
    request = send.calls.last.request
    assert request.headers["Idempotency-Key"] == "job-1:confirmation"
    body = json.loads(request.content)
    assert body["to"] == "ada@example.com"
    assert body["subject"] == "Votre réservation est confirmée"
    assert body["variables"]["starts_at"] == "2030-05-01T09:00:00+00:00"
    assert ctx.progress_reports[-1] == (100, "confirmation sent")


@respx.mock
@pytest.mark.parametrize("status", [400, 404, 409, 422])
async def test_client_errors_are_permanent(status: int) -> None:
    respx.get("http://booking.test/bookings/b1").respond(status, text="no such booking")
    with pytest.raises(PermanentError, match=f"answered {status}: no such booking"):
        await run_local("booking.send_confirmation", {"booking_id": "b1"})


@respx.mock
@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_server_errors_and_throttling_are_retryable(status: int) -> None:
    respx.get("http://booking.test/bookings/b1").respond(json=BOOKING)
    respx.post("http://email.test/messages").respond(status)
    with pytest.raises(ApiError, match=str(status)) as info:
        await run_local("booking.send_confirmation", {"booking_id": "b1"})
    assert not isinstance(info.value, PermanentError)


@respx.mock
async def test_timeouts_are_retryable() -> None:
    respx.get("http://booking.test/bookings/b1").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(httpx.TimeoutException):
        await run_local("booking.send_confirmation", {"booking_id": "b1"})


@respx.mock
async def test_a_cancelled_booking_is_not_confirmed() -> None:
    respx.get("http://booking.test/bookings/b1").respond(json={**BOOKING, "status": "cancelled"})
    send = respx.post("http://email.test/messages").respond(json={"message_id": "m-1"})
    with pytest.raises(PermanentError, match="cancelled"):
        await run_local("booking.send_confirmation", {"booking_id": "b1"})
    assert send.call_count == 0
