"""Errors raised by ``jobrelay.dispatcher``, under jobrelay's one root.

JobrelayError                        (jobrelay.job_engine)
├── ServiceUnavailable
│   └── EngineUnavailable            (also a DispatcherError: retry later)
│       ├── DispatchUnavailable      no engine accepted the job; carries both causes
│       ├── StatusUnavailable        no engine answered a status or cancel request
│       └── IndexUnavailable         Redis, which holds the job index, did not answer
└── DispatcherError
    ├── DispatchConfigurationError   settings that cannot work together
    ├── InvalidDispatch              an argument of the dispatch call itself (delay, confirm, batch)
    ├── InvalidQuery                 an argument of a job list or a bulk action
    ├── PayloadTooLarge              the encoded payload is over the size cap
    ├── JobNotRetryable              a retry of a job that is queued, running or succeeded
    ├── JobNotRemovable              a delete of a job that has not finished
    └── DispatchProxyError           the dispatch proxy refused the request

``JobNotFound`` (no engine knows the job id) and ``InvalidCursor`` (a job
list's cursor no page returned) are ``jobrelay.queue``'s; unknown
job names and invalid payloads raise ``UnknownJob`` and ``InvalidPayload``
from ``jobrelay.job_engine``. All three are re-exported here.
"""

from __future__ import annotations

from jobrelay.job_engine import JobrelayError, ServiceUnavailable
from jobrelay.queue import InvalidCursor, JobNotFound

__all__ = [
    "DispatchConfigurationError",
    "DispatchProxyError",
    "DispatchUnavailable",
    "DispatcherError",
    "EngineUnavailable",
    "IndexUnavailable",
    "InvalidCursor",
    "InvalidDispatch",
    "InvalidQuery",
    "JobNotFound",
    "JobNotRemovable",
    "JobNotRetryable",
    "PayloadTooLarge",
    "StatusUnavailable",
]


class DispatcherError(JobrelayError):
    """Base class of every error raised by jobrelay.dispatcher."""


class DispatchConfigurationError(DispatcherError):
    """Raised when dispatcher settings are missing or contradict each other."""


class InvalidDispatch(DispatcherError, ValueError):
    """Raised when an argument of the dispatch call itself cannot be used; ``loc`` names it.

    ``loc`` is the argument's path (``("delay",)``, ``("jobs", 3, "delay")``),
    ``field`` the same joined with dots.
    The payload has its own errors (``InvalidPayload``, ``PayloadTooLarge``);
    this one is for ``delay``, ``confirm`` and the shape of a batch.
    """

    def __init__(self, field: str | tuple[str | int, ...], message: str) -> None:
        self.loc: tuple[str | int, ...] = (field,) if isinstance(field, str) else field
        self.field = ".".join(str(part) for part in self.loc)
        self.message = message
        super().__init__(f"{self.field}: {message}")


class PayloadTooLarge(DispatcherError, ValueError):
    """Raised when a payload encodes to more bytes than ``JOBRELAY_MAX_PAYLOAD_BYTES``."""

    def __init__(self, job_name: str, size: int, limit: int) -> None:
        self.job_name = job_name
        self.size = size
        self.limit = limit
        super().__init__(
            f"payload for {job_name!r} is {size} bytes encoded; the limit is {limit} "
            f"(JOBRELAY_MAX_PAYLOAD_BYTES)"
        )


class JobNotRetryable(DispatcherError):
    """Raised when a retry names a job that is not failed, dead or cancelled; ``state`` says."""

    def __init__(self, job_id: str, state: str) -> None:
        self.job_id = job_id
        self.state = state
        super().__init__(
            f"job {job_id!r} is {state}: only a failed, dead or cancelled job can be retried"
        )


class DispatchProxyError(DispatcherError):
    """Raised when the dispatch proxy answers with an error that retrying cannot fix."""

    def __init__(self, status_code: int, detail: str) -> None:
        self.status_code = status_code
        self.detail = detail
        super().__init__(f"dispatch proxy answered {status_code}: {detail}")


class EngineUnavailable(DispatcherError, ServiceUnavailable):
    """Raised when the engines needed for a request cannot be reached; retry later."""


class DispatchUnavailable(EngineUnavailable):
    """Raised when neither Dramatiq nor Temporal accepted a job; nothing was accepted.

    ``dramatiq_cause`` says why the Dramatiq path was not taken or failed
    (``reason`` is its short code, e.g. ``redis_unavailable``) and
    ``temporal_cause`` why the Temporal start failed.
    """

    def __init__(
        self,
        job_id: str,
        *,
        reason: str,
        dramatiq_cause: BaseException | str,
        temporal_cause: BaseException | str,
        retry_after_s: float = 5.0,
    ) -> None:
        self.job_id = job_id
        self.reason = reason
        self.dramatiq_cause = dramatiq_cause
        self.temporal_cause = temporal_cause
        self.retry_after_s = retry_after_s
        super().__init__(
            f"job {job_id!r} was not accepted: Dramatiq path: {reason} ({dramatiq_cause}); "
            f"Temporal: {temporal_cause}"
        )


class StatusUnavailable(EngineUnavailable):
    """Raised when a status or cancel request reached neither Redis nor Temporal."""

    def __init__(
        self, job_id: str, *, redis_cause: BaseException | str, temporal_cause: BaseException | str
    ) -> None:
        self.job_id = job_id
        self.redis_cause = redis_cause
        self.temporal_cause = temporal_cause
        super().__init__(
            f"cannot tell about job {job_id!r}: Redis: {redis_cause}; Temporal: {temporal_cause}"
        )


class IndexUnavailable(EngineUnavailable):
    """Raised when a job list or bulk action cannot read the job index: Redis did not answer."""

    def __init__(self, cause: BaseException | str) -> None:
        self.cause = cause
        self.retry_after_s = 5.0
        super().__init__(f"the job index (Redis) cannot be read: {cause}")


class InvalidQuery(DispatcherError, ValueError):
    """Raised when an argument of a job list or bulk action cannot be used; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class JobNotRemovable(DispatcherError):
    """Raised when a delete names a job that has not finished; ``state`` says where it is."""

    def __init__(self, job_id: str, state: str) -> None:
        self.job_id = job_id
        self.state = state
        super().__init__(f"job {job_id!r} is {state}: only a finished job can be deleted")
