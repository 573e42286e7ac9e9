"""``booking.send_reminder``: wait until shortly before a booking, then remind the customer."""

from __future__ import annotations

from datetime import timedelta

from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel, Field

from ..api import api_settings, async_client, check_response
from ..bookings import Booking, load_booking


class ReminderIn(BaseModel):
    booking_id: str = Field(min_length=1)
    minutes_before: int = Field(60, ge=0)


class NotificationReceipt(BaseModel):
    notification_id: str


class ReminderOut(BaseModel):
    booking_id: str
    sent: bool
    notification_id: str | None = None


async def send_reminder_notification(booking: Booking, idempotency_key: str) -> NotificationReceipt:
    """Step: ask the notification API to remind the customer."""
    settings = api_settings()
    body = {
        "recipient": booking.email,
        "channel": "email",
        "template": "booking-reminder",
        "variables": {"name": booking.customer_name, "starts_at": booking.starts_at.isoformat()},
    }
    async with async_client(settings.notify_api_url, settings) as client:
        response = check_response(
            await client.post(
                "/notifications", json=body, headers={"Idempotency-Key": idempotency_key}
            )
        )
    return NotificationReceipt.model_validate(response.json())


@job("booking.send_reminder", queue="scheduled", retries=5)
async def send_reminder(ctx: JobContext, data: ReminderIn) -> ReminderOut:
    booking = await ctx.run("load-booking", load_booking, data.booking_id)
    # A due time in the past (a booking made at short notice) passes at once.
    await ctx.sleep_until(
        "wait-until-due", booking.starts_at - timedelta(minutes=data.minutes_before)
    )
    ctx.progress(50, "due")
    # The booking may have changed during a long wait: look again before notifying.
    current = await ctx.run("reload-booking", load_booking, data.booking_id)
    if current.status == "cancelled":
        ctx.log("booking cancelled while waiting; no reminder", booking_id=current.id)
        return ReminderOut(booking_id=current.id, sent=False)
    receipt = await ctx.run("notify", send_reminder_notification, current, f"{ctx.job_id}:reminder")
    return ReminderOut(booking_id=current.id, sent=True, notification_id=receipt.notification_id)
