"""Errors raised by ``jobrelay.queue``, under jobrelay's one root.

JobrelayError                 (jobrelay.job_engine)
├── ServiceUnavailable
│   └── RedisUnavailable      (also a QueueError: callers fall back on it)
└── QueueError
    ├── ConfigurationError
    │   ├── InvalidRedisURL
    │   └── UnknownQueue
    ├── JobRecordError
    │   └── JobNotFound       the one JobNotFound (the dispatcher raises it too)
    └── InvalidCursor         a job list's cursor that no page returned
"""

from __future__ import annotations

from jobrelay.job_engine.errors import JobrelayError, ServiceUnavailable

__all__ = [
    "ConfigurationError",
    "InvalidCursor",
    "InvalidRedisURL",
    "JobNotFound",
    "JobRecordError",
    "JobrelayError",
    "QueueError",
    "RedisUnavailable",
    "ServiceUnavailable",
    "UnknownQueue",
]


class QueueError(JobrelayError):
    """Base class of every error raised by jobrelay.queue."""


class ConfigurationError(QueueError, ValueError):
    """Raised when a setting or argument cannot be used as given."""


class InvalidRedisURL(ConfigurationError):
    """Raised when ``REDIS_URL`` is not a usable redis:// or rediss:// URL."""


class UnknownQueue(ConfigurationError, LookupError):
    """Raised when a queue name is not one of the declared queues."""


class RedisUnavailable(QueueError, ServiceUnavailable):
    """Raised when Redis cannot be reached or did not answer in time."""


class JobRecordError(QueueError):
    """Raised when a job record is missing or cannot be changed as asked."""


class JobNotFound(JobRecordError, LookupError):
    """Raised when no engine knows the job id: no record in Redis, no workflow on Temporal."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"no job with id {job_id!r}")


class InvalidCursor(QueueError, ValueError):
    """Raised when a job list's ``cursor`` is not one a previous page returned."""

    def __init__(self, cursor: str) -> None:
        self.cursor = cursor
        super().__init__(f"not a cursor a job list returned: {cursor[:40]!r}")
