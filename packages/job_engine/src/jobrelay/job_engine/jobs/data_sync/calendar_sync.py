"""``calendar.sync``: page through a remote calendar and push the busy slots to the booking API."""

from __future__ import annotations

from datetime import datetime

from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel, Field

from ..api import api_settings, async_client, check_response, sync_client


class CalendarSyncIn(BaseModel):
    calendar_id: str = Field(min_length=1)
    page_size: int = Field(50, ge=1, le=500)
    max_pages: int = Field(100, ge=1)


class CalendarEvent(BaseModel):
    id: str
    starts_at: datetime
    ends_at: datetime
    status: str = "confirmed"


class EventPage(BaseModel):
    events: list[CalendarEvent]
    next_cursor: str | None = None
    total: int | None = None


class BusySlot(BaseModel):
    starts_at: datetime
    ends_at: datetime
    source_event_id: str


class PushReceipt(BaseModel):
    accepted: int


class CalendarSyncOut(BaseModel):
    calendar_id: str
    pages: int
    events: int
    busy_slots: int
    truncated: bool


async def fetch_page(calendar_id: str, cursor: str | None, page_size: int) -> EventPage:
    """Step: one page of the calendar's events."""
    settings = api_settings()
    params: dict[str, str | int] = {"limit": page_size}
    if cursor is not None:
        params["cursor"] = cursor
    async with async_client(settings.calendar_api_url, settings) as client:
        response = check_response(
            await client.get(f"/calendars/{calendar_id}/events", params=params)
        )
    return EventPage.model_validate(response.json())


def push_busy_slots(calendar_id: str, slots: list[BusySlot]) -> PushReceipt:
    """Step: replace the calendar's busy slots in the booking API (idempotent PUT)."""
    settings = api_settings()
    body = {"slots": [slot.model_dump(mode="json") for slot in slots]}
    with sync_client(settings.booking_api_url, settings) as client:
        response = check_response(client.put(f"/calendars/{calendar_id}/busy-slots", json=body))
    return PushReceipt.model_validate(response.json())


@job("calendar.sync", queue="data_sync", retries=3)
async def sync_calendar(ctx: JobContext, data: CalendarSyncIn) -> CalendarSyncOut:
    events: list[CalendarEvent] = []
    cursor: str | None = None
    pages = 0
    truncated = False
    while True:
        page = await ctx.run(
            f"fetch-page-{pages + 1}", fetch_page, data.calendar_id, cursor, data.page_size
        )
        pages += 1
        events.extend(page.events)
        cursor = page.next_cursor
        percent = min(90, len(events) * 90 // page.total) if page.total else min(90, pages * 10)
        ctx.progress(percent, f"fetched {len(events)} events in {pages} pages")
        if cursor is None:
            break
        if pages >= data.max_pages:
            truncated = True
            ctx.log("calendar has more pages than max_pages", max_pages=data.max_pages)
            break
    slots = [
        BusySlot(starts_at=e.starts_at, ends_at=e.ends_at, source_event_id=e.id)
        for e in events
        if e.status != "cancelled"
    ]
    receipt = await ctx.run("push-busy-slots", push_busy_slots, data.calendar_id, slots)
    ctx.progress(100, f"pushed {receipt.accepted} busy slots")
    return CalendarSyncOut(
        calendar_id=data.calendar_id,
        pages=pages,
        events=len(events),
        busy_slots=receipt.accepted,
        truncated=truncated,
    )
