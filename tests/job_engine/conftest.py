"""The built-in jobs talk to fake API hosts; respx answers for them."""

from __future__ import annotations

import pytest
from jobrelay.job_engine import discover_jobs

BOOKING_API = "http://booking.test"
EMAIL_API = "http://email.test"
CALENDAR_API = "http://calendar.test"
NOTIFY_API = "http://notify.test"


@pytest.fixture(autouse=True)
def api_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBRELAY_BOOKING_API_URL", BOOKING_API)
    monkeypatch.setenv("JOBRELAY_EMAIL_API_URL", EMAIL_API)
    monkeypatch.setenv("JOBRELAY_CALENDAR_API_URL", CALENDAR_API)
    monkeypatch.setenv("JOBRELAY_NOTIFY_API_URL", NOTIFY_API)
    monkeypatch.setenv("JOBRELAY_API_TIMEOUT_S", "2")


@pytest.fixture(scope="session", autouse=True)
def builtin_jobs() -> None:
    discover_jobs()
