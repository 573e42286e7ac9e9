from __future__ import annotations

import json
from typing import Any

import httpx
import respx
from jobrelay.job_engine.jobs.data_sync.calendar_sync import CalendarSyncOut
from jobrelay.job_engine.testing import LocalContext, run_local

EVENTS_URL = "http://calendar.test/calendars/cal-1/events"
PUSH_URL = "http://booking.test/calendars/cal-1/busy-slots"


def _event(i: int, status: str = "confirmed") -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "starts_at": f"2030-01-01T{i:02d}:00:00+00:00",
        "ends_at": f"2030-01-01T{i:02d}:30:00+00:00",
        "status": status,
    }


def _pages(request: httpx.Request) -> httpx.Response:
    cursor = request.url.params.get("cursor")
    assert request.url.params["limit"] == "2"
    page = {
        None: {"events": [_event(1), _event(2)], "next_cursor": "c2", "total": 5},
        "c2": {"events": [_event(3), _event(4, "cancelled")], "next_cursor": "c3", "total": 5},
        "c3": {"events": [_event(5)], "next_cursor": None, "total": 5},
    }[cursor]
    return httpx.Response(200, json=page)


@respx.mock
async def test_pages_through_the_calendar_then_pushes_busy_slots() -> None:
    pages = respx.get(EVENTS_URL).mock(side_effect=_pages)
    push = respx.put(PUSH_URL).respond(json={"accepted": 4})
    ctx = LocalContext("sync-1")

    out = await run_local("calendar.sync", {"calendar_id": "cal-1", "page_size": 2}, ctx)

    assert out == CalendarSyncOut(
        calendar_id="cal-1", pages=3, events=5, busy_slots=4, truncated=False
    )
    assert ctx.steps == ["fetch-page-1", "fetch-page-2", "fetch-page-3", "push-busy-slots"]
    assert pages.call_count == 3 and push.call_count == 1
    slots = json.loads(push.calls.last.request.content)["slots"]
    assert [s["source_event_id"] for s in slots] == ["e1", "e2", "e3", "e5"]
    percents = [p for p, _ in ctx.progress_reports]
    assert percents == sorted(percents) and percents[-1] == 100
    assert ctx.progress_reports[0] == (36, "fetched 2 events in 1 pages")


@respx.mock
async def test_stops_at_max_pages() -> None:
    respx.get(EVENTS_URL).mock(side_effect=_pages)
    push = respx.put(PUSH_URL).respond(json={"accepted": 3})
    ctx = LocalContext()

    out = await run_local(
        "calendar.sync", {"calendar_id": "cal-1", "page_size": 2, "max_pages": 2}, ctx
    )

    assert out.truncated is True and out.pages == 2 and out.events == 4
    assert ctx.steps == ["fetch-page-1", "fetch-page-2", "push-busy-slots"]
    assert push.call_count == 1
