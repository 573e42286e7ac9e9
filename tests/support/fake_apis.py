"""The built-in jobs pointed at fake API hosts (``http://{name}.test``) that respx answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from jobrelay.job_engine.jobs.api import ApiSettings, configure_apis

BOOKING_API = "http://booking.test"
EMAIL_API = "http://email.test"
CALENDAR_API = "http://calendar.test"
NOTIFY_API = "http://notify.test"


@contextmanager
def fake_apis(timeout_s: float = 2.0) -> Iterator[ApiSettings]:
    """Configure the built-in jobs for the fake hosts, as the worker app would; then undo it."""
    settings = ApiSettings.model_validate(
        {
            "booking_api_url": BOOKING_API,
            "email_api_url": EMAIL_API,
            "calendar_api_url": CALENDAR_API,
            "notify_api_url": NOTIFY_API,
            "timeout_s": timeout_s,
        }
    )
    configure_apis(settings)
    try:
        yield settings
    finally:
        configure_apis(None)
