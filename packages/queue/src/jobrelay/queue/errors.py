"""Errors raised by ``jobrelay.queue``.

QueueError
├── ConfigurationError
│   ├── InvalidRedisURL
│   └── UnknownQueue
├── RedisUnavailable          (availability branch: callers fall back on it)
└── JobRecordError
    └── JobNotFound
"""

from __future__ import annotations


class QueueError(Exception):
    """Base class of every error raised by jobrelay.queue."""


class ConfigurationError(QueueError, ValueError):
    """Raised when a setting or argument cannot be used as given."""


class InvalidRedisURL(ConfigurationError):
    """Raised when ``REDIS_URL`` is not a usable redis:// or rediss:// URL."""


class UnknownQueue(ConfigurationError, LookupError):
    """Raised when a queue name is not one of the declared queues."""


class RedisUnavailable(QueueError):
    """Raised when Redis cannot be reached or did not answer in time."""


class JobRecordError(QueueError):
    """Raised when a job record is missing or cannot be changed as asked."""


class JobNotFound(JobRecordError, LookupError):
    """Raised when no record exists for a job id."""
