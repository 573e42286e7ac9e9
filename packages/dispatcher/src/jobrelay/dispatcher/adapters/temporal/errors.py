"""Errors of the Temporal adapter.

TemporalAdapterError
└── TemporalUnavailable      (availability branch: the dispatcher falls back on it)
"""

from __future__ import annotations


class TemporalAdapterError(Exception):
    """Base class of every error raised by the Temporal adapter."""


class TemporalUnavailable(TemporalAdapterError):
    """Raised when the Temporal server cannot be reached or did not answer in time."""
