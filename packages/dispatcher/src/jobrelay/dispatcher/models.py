from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from jobrelay.job_engine import JobrelayError
from jobrelay.queue import JobState
from pydantic import BaseModel, ConfigDict, Field

from .errors import InvalidDispatch

Engine = Literal["dramatiq", "temporal"]
Confirm = Literal["admission", "pickup"]


class Reason(StrEnum):
    """Why a job went to the engine it went to."""

    OK = "ok"
    FLAG_OFF = "flag_off"
    REDIS_UNAVAILABLE = "redis_unavailable"
    NO_LIVE_WORKER = "no_live_worker"
    ENQUEUE_FAILED = "enqueue_failed"
    PICKUP_TIMEOUT = "pickup_timeout"


class DispatchReceipt(BaseModel):
    """What ``dispatch_job`` returns once an engine holds the job."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    engine: Engine
    reason: Reason
    deduplicated: bool = False


class JobRequest(BaseModel):
    """One job of a :meth:`Dispatcher.dispatch_many` batch: the arguments of one dispatch."""

    name: str
    payload: Any = Field(default_factory=dict)
    job_id: str | None = None
    delay: timedelta | float | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One item of a batch, in the batch's order: its receipt, or the error it got.

    Exactly one of ``receipt`` and ``error`` is set. An item's error is what
    a single dispatch of it would have raised (``UnknownJob``,
    ``InvalidPayload``, ``PayloadTooLarge``, ``InvalidDispatch``,
    ``DispatchUnavailable``); the other items went on.
    """

    index: int
    receipt: DispatchReceipt | None = None
    error: JobrelayError | None = None

    @property
    def ok(self) -> bool:
        """Whether an engine holds this item's job."""
        return self.receipt is not None


class JobStatus(BaseModel):
    """Where a job is and what it produced, whichever engine runs it."""

    job_id: str
    name: str | None = None
    queue: str | None = None
    engine: Engine | None = None
    state: JobState
    attempts: int = 0
    progress: int = 0
    message: str = ""
    result: Any = None
    error: str | None = None
    reason: Reason | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def utc(epoch: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime; None and 0 (unset) stay None."""
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def delay_seconds(delay: timedelta | float | None) -> float | None:
    """A dispatch delay in seconds; None for none or zero. Negative: :class:`InvalidDispatch`."""
    if delay is None:
        return None
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
    if seconds < 0:
        raise InvalidDispatch("delay", f"must not be negative, got {seconds}s")
    return seconds or None
