"""What became of the job a message carried, for middleware that counts jobs.

Dramatiq sees only whether the actor raised: a retry raises, while a job
the adapter dead-letters, fails for good or drops as a duplicate returns
normally. Middleware that counts jobs reads :func:`outcome_of` instead.
"""

from __future__ import annotations

from enum import StrEnum

from dramatiq.broker import MessageProxy

_ATTR = "_jobrelay_outcome"


class Outcome(StrEnum):
    """How one delivery of a job ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"
    RETRYING = "retrying"
    SLEEPING = "sleeping"
    DROPPED = "dropped"
    """Another engine owns the job, or it already finished: nothing ran."""
    REQUEUED = "requeued"
    """Redis failed under the attempt; the message goes back to its queue."""
    WAITING = "waiting"
    """No concurrency slot or no rate-limit turn yet: it comes back when due, as
    the same attempt (flow control); nothing ran."""

    @property
    def is_failure(self) -> bool:
        """The job ended without a result and will not be tried again."""
        return self in (Outcome.FAILED, Outcome.DEAD)


def settle(message: MessageProxy, outcome: Outcome) -> None:
    """Note how the delivery of ``message`` ended."""
    setattr(message, _ATTR, outcome)


def outcome_of(message: MessageProxy) -> Outcome | None:
    """How the delivery of ``message`` ended; None when no jobrelay actor ran it."""
    # MessageProxy forwards unknown attributes to the message, which raises.
    found: Outcome | None = message.__dict__.get(_ATTR)
    return found


def ended(message: MessageProxy, exception: BaseException | None) -> Outcome:
    """How a delivery ended: as the adapter settled it, else by whether it raised."""
    settled = outcome_of(message)
    if settled is not None:
        return settled
    return Outcome.SUCCEEDED if exception is None else Outcome.RETRYING
