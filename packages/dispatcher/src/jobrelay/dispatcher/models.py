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
    priority: str | int | None = None
    """``high``, ``normal``, ``low`` or 1 (first) to 5 (last); None is ``normal``."""


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


class JobAttempt(BaseModel):
    """One attempt of a job, from its attempt log (:attr:`JobDetail.history`)."""

    attempt: int
    engine: Engine | None = None
    worker: str | None = None
    """Who ran it: ``host:pid`` on Dramatiq, the worker's identity on Temporal."""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str
    """succeeded, failed, dead, cancelled, retrying, sleeping, requeued; running while it runs."""
    error: str | None = None
    traceback: str | None = None
    """The last lines of the failure's traceback."""
    step: str | None = None
    """On Temporal, the step whose activity attempt this was (None: the run as a whole)."""


class JobStep(BaseModel):
    """One step of a job, from its step log (:attr:`JobDetail.steps`)."""

    step_id: str
    state: Literal["running", "succeeded", "failed"]
    attempts: int
    """How many times the step was run."""
    duration_ms: float | None = None
    """How long its last run took; None while it runs."""
    result: str | None = None
    """Its result as JSON text, cut after 2000 characters (with a marker saying so)."""
    error: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class TemporalRun(BaseModel):
    """The Temporal workflow run of a job (the workflow id is the job id)."""

    workflow_id: str
    run_id: str | None = None
    ui_url: str | None = None
    """The run in the Temporal UI, when ``TEMPORAL_UI_URL`` is set."""


class FlowLimits(BaseModel):
    """A job's declared limits and uniqueness window (README, Flow control).

    A key is what the limit counts under: for a queue's job, as declared (a
    field, a format, a function's name); for one job, its payload's value
    (``*``: all jobs of the name).
    """

    concurrency_limit: int | None = None
    concurrency_key: str | None = None
    rate_limit: str | None = None
    rate_key: str | None = None
    unique_for_s: float | None = None
    unique_key: str | None = None


class JobFlow(FlowLimits):
    """A job's flow control: its priority, its job's limits with the keys its
    payload falls under, and what it waits for."""

    priority: int = 3
    """1 (first) to 5 (last); 3 is ``normal``."""
    waiting_for: Literal["slot", "rate"] | None = None
    """While it is queued: a concurrency slot, or its turn under the rate limit."""


class JobDetail(JobStatus):
    """A job's status, plus its payload, attempts, steps and Temporal run (``GET /jobs/{id}``)."""

    payload: Any = None
    history: list[JobAttempt] = Field(default_factory=list)
    """Its attempts, oldest first."""
    steps: list[JobStep] = Field(default_factory=list)
    """Its steps, in the order they started."""
    temporal: TemporalRun | None = None
    """Set for a job on Temporal."""
    flow: JobFlow | None = None
    """Set for a job with a priority, or whose job declares flow control."""


def utc(epoch: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime; None and 0 (unset) stay None."""
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


# The longest dispatch delay: a year and a day. Past it Temporal's start
# delay overflows (1e308 s was a 503 naming neither engine's real complaint),
# and no job should wait longer than its operator can remember dispatching it.
MAX_DELAY_S = 366 * 24 * 3600


def delay_seconds(delay: timedelta | float | None) -> float | None:
    """A dispatch delay in seconds; None for none or zero.

    :class:`InvalidDispatch` for a negative one, one over :data:`MAX_DELAY_S`,
    or one that is not a number of seconds (NaN).
    """
    if delay is None:
        return None
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
    if seconds < 0:
        raise InvalidDispatch("delay", f"must not be negative, got {seconds}s")
    if not seconds <= MAX_DELAY_S:  # also refuses NaN, which compares false
        raise InvalidDispatch("delay", f"at most {MAX_DELAY_S}s (366 days), got {seconds}s")
    return seconds or None
