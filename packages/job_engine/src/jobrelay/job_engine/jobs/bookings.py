"""The booking API, shared by the booking jobs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from .api import api_settings, async_client, check_response


class Booking(BaseModel):
    """A booking as the booking API returns it."""

    id: str
    customer_name: str
    email: str
    starts_at: datetime
    status: str = "confirmed"
    service: str = ""


async def load_booking(booking_id: str) -> Booking:
    """Step: fetch one booking."""
    settings = api_settings()
    async with async_client(settings.booking_api_url, settings) as client:
        response = check_response(await client.get(f"/bookings/{booking_id}"))
    return Booking.model_validate(response.json())
