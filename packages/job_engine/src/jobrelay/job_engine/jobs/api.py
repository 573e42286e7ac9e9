"""HTTP plumbing shared by the built-in jobs: where the APIs live and what their errors mean."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobrelay.job_engine.errors import PermanentError
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    # Imported when a step first makes a client: httpx (with ssl) is a good
    # part of a worker's start-up, and workers must heartbeat quickly.
    import httpx


class ApiSettings(BaseSettings):
    """Base URLs of the external APIs the built-in jobs call.

    Built from the environment only by the worker app (``ApiSettings()`` in
    its CLI), which hands it to :func:`configure_apis`; the steps read it
    with :func:`api_settings` when they run.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    booking_api_url: str = Field(
        "http://127.0.0.1:8101",
        validation_alias=AliasChoices("JOBRELAY_BOOKING_API_URL", "booking_api_url"),
    )
    email_api_url: str = Field(
        "http://127.0.0.1:8102",
        validation_alias=AliasChoices("JOBRELAY_EMAIL_API_URL", "email_api_url"),
    )
    calendar_api_url: str = Field(
        "http://127.0.0.1:8103",
        validation_alias=AliasChoices("JOBRELAY_CALENDAR_API_URL", "calendar_api_url"),
    )
    notify_api_url: str = Field(
        "http://127.0.0.1:8104",
        validation_alias=AliasChoices("JOBRELAY_NOTIFY_API_URL", "notify_api_url"),
    )
    timeout_s: float = Field(
        10.0, gt=0, validation_alias=AliasChoices("JOBRELAY_API_TIMEOUT_S", "timeout_s")
    )


# Set once by the application edge; a process that never calls
# configure_apis (a test, a script) gets the defaults, not its environment.
_configured: ApiSettings | None = None


def configure_apis(settings: ApiSettings | None) -> None:
    """Give the built-in jobs' steps ``settings`` (the worker app does this at start-up).

    ``None`` goes back to the defaults.
    """
    global _configured
    _configured = settings


def api_settings() -> ApiSettings:
    """The settings given to :func:`configure_apis`, else the defaults (never the environment)."""
    if _configured is None:
        return ApiSettings.model_construct()
    return _configured


class ApiError(RuntimeError):
    """Raised when an API answered 429 or 5xx: the call may succeed if retried."""


def check_response(response: httpx.Response) -> httpx.Response:
    """Return ``response`` if it succeeded; otherwise raise the error the engines act on.

    4xx other than 429 is the caller's fault and will not change on a retry:
    :class:`PermanentError`. 429 and 5xx are :class:`ApiError` and retried.
    Timeouts and connection errors stay httpx's own errors, also retried.
    """
    status = response.status_code
    if status < 400:
        return response
    what = f"{response.request.method} {response.request.url} answered {status}"
    detail = response.text[:200]
    if status == 429 or status >= 500:
        raise ApiError(f"{what}: {detail}")
    raise PermanentError(f"{what}: {detail}")


def async_client(base_url: str, settings: ApiSettings) -> httpx.AsyncClient:
    """An async client for one API with the configured timeout."""
    import httpx

    return httpx.AsyncClient(base_url=base_url, timeout=settings.timeout_s)


def sync_client(base_url: str, settings: ApiSettings) -> httpx.Client:
    """A blocking client for one API, for steps the engines run in a thread."""
    import httpx

    return httpx.Client(base_url=base_url, timeout=settings.timeout_s)
