"""``booking.send_confirmation``: email the customer that their booking is confirmed."""

from __future__ import annotations

from jobrelay.job_engine import JobContext, PermanentError, job
from pydantic import BaseModel, Field

from ..api import api_settings, check_response, sync_client
from ..bookings import Booking, load_booking


class ConfirmationIn(BaseModel):
    booking_id: str = Field(min_length=1)
    locale: str = "en"


class EmailReceipt(BaseModel):
    message_id: str


class ConfirmationOut(BaseModel):
    booking_id: str
    email: str
    message_id: str


_SUBJECTS = {"en": "Your booking is confirmed", "fr": "Votre réservation est confirmée"}


def send_confirmation_email(booking: Booking, locale: str, idempotency_key: str) -> EmailReceipt:
    """Step: send the confirmation through the email API.

    The idempotency key lets the email API drop a resend if the step's result
    was lost after the email went out (a worker killed mid-step).
    """
    settings = api_settings()
    message = {
        "to": booking.email,
        "subject": _SUBJECTS.get(locale, _SUBJECTS["en"]),
        "template": "booking-confirmation",
        "variables": {
            "name": booking.customer_name,
            "service": booking.service,
            "starts_at": booking.starts_at.isoformat(),
        },
    }
    with sync_client(settings.email_api_url, settings) as client:
        response = check_response(
            client.post("/messages", json=message, headers={"Idempotency-Key": idempotency_key})
        )
    return EmailReceipt.model_validate(response.json())


@job("booking.send_confirmation", queue="default", retries=5)
async def send_confirmation(ctx: JobContext, data: ConfirmationIn) -> ConfirmationOut:
    booking = await ctx.run("load-booking", load_booking, data.booking_id)
    if booking.status == "cancelled":
        raise PermanentError(f"booking {booking.id} is cancelled; not confirming it")
    ctx.progress(50, "booking loaded")
    receipt = await ctx.run(
        "send-email",
        send_confirmation_email,
        booking,
        data.locale,
        f"{ctx.job_id}:confirmation",
    )
    ctx.progress(100, "confirmation sent")
    return ConfirmationOut(
        booking_id=booking.id, email=booking.email, message_id=receipt.message_id
    )
