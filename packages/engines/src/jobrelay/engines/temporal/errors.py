"""Errors of the Temporal adapter, under jobrelay's one root.

JobrelayError                (jobrelay.job_engine)
├── ServiceUnavailable
│   └── TemporalUnavailable  (also a TemporalAdapterError: the dispatcher falls back on it)
└── TemporalAdapterError
    └── TemporalConfigurationError   TLS settings that cannot be used
"""

from __future__ import annotations

from jobrelay.job_engine import JobrelayError, ServiceUnavailable


class TemporalAdapterError(JobrelayError):
    """Base class of every error raised by the Temporal adapter."""


class TemporalUnavailable(TemporalAdapterError, ServiceUnavailable):
    """Raised when the Temporal server cannot be reached or did not answer in time."""


class TemporalConfigurationError(TemporalAdapterError, ValueError):
    """Raised when the Temporal connection settings cannot be used: a TLS file that cannot
    be read, a client certificate without its key."""
