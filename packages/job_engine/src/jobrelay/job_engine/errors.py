"""The root of jobrelay's error tree, and the errors of ``jobrelay.job_engine``.

Every error jobrelay raises is a :class:`JobrelayError`. What the dispatcher
falls back on, a service that does not answer, is its own branch,
:class:`ServiceUnavailable`, under which each package puts its own
(``RedisUnavailable``, ``TemporalUnavailable``, ``EngineUnavailable``).

JobrelayError
├── ServiceUnavailable       (availability branch: fall back, or retry later)
└── JobEngineError
    ├── JobDefinitionError   a job declared wrongly, or two jobs with one name
    ├── UnknownJob           no job of that name is registered
    ├── InvalidPayload       the payload does not fit the job's model
    ├── PermanentError       raised by job code: fail now, do not retry
    └── JobCancelled         the job was asked to stop
"""

from __future__ import annotations

from typing import Any


class JobrelayError(Exception):
    """Base class of every error jobrelay raises; catch it to catch them all."""


class ServiceUnavailable(JobrelayError):
    """Raised when a service jobrelay needs (Redis, Temporal, an engine) does not answer.

    Never raised itself: each package raises its own subclass. Retrying
    later, or on the other engine, can succeed.
    """


class JobEngineError(JobrelayError):
    """Base class of every error raised by jobrelay.job_engine."""


class JobDefinitionError(JobEngineError, TypeError):
    """Raised when a job is declared wrongly or a name is taken by another function."""


class UnknownJob(JobEngineError, LookupError):
    """Raised when no job of the given name is registered."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        hint = ", ".join(known[:20]) or "none registered"
        super().__init__(f"unknown job {name!r}; known jobs: {hint}")


class InvalidPayload(JobEngineError, ValueError):
    """Raised when a payload fails validation; ``errors`` names each field at fault."""

    def __init__(self, job_name: str, errors: list[dict[str, Any]]) -> None:
        self.job_name = job_name
        self.errors = errors
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or '<payload>'}: {e.get('msg', '')}"
            for e in errors
        )
        super().__init__(f"invalid payload for {job_name!r}: {fields}")


class PermanentError(JobEngineError):
    """Raised by job code when retrying cannot help; both engines fail the job at once."""


class JobCancelled(JobEngineError):
    """Raised at the next step boundary after a cancel was requested."""
