"""The dispatcher's Redis writes: admit, claim for Temporal, confirm, undo, lease."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from jobrelay.queue import JobStore, unavailable_on_error
from jobrelay.queue.codec import text

from . import _scripts


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A Dramatiq message ready to be pushed straight into the broker's keys."""

    queue_key: str
    messages_key: str
    message_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of :meth:`Ledger.admit`: created now, or what the existing record says."""

    created: bool
    token: str | None = None
    engine: str | None = None
    reason: str | None = None
    state: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    owner: str
    won: bool
    state: str | None


class Ledger:
    """Atomic dispatch steps over a :class:`JobStore`'s keys (one round trip each).

    Every method raises :class:`RedisUnavailable` when Redis does not answer.
    """

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.keys = store.keys
        client = store.client
        self._admit = client.register_script(_scripts.ADMIT)
        self._claim = client.register_script(_scripts.CLAIM_TEMPORAL)
        self._abandon = client.register_script(_scripts.ABANDON)
        self._release = client.register_script(_scripts.RELEASE)

    def admit(
        self,
        job_id: str,
        fields: dict[str, str],
        *,
        payload: str,
        deadline: float | None,
        owner: str = "",
        message: QueuedMessage | None = None,
    ) -> Admission:
        """Create the record (``fields`` + ``payload``) if absent, add it to pending, and
        optionally claim or enqueue.

        ``deadline`` None keeps the job out of the pending set.
        ``owner="temporal"`` claims the job in the same step (a job routed to
        Temporal); ``message`` is pushed to its Dramatiq queue in the same step.
        Nothing is written when a record already exists.
        """
        keys = [
            self.keys.job(job_id),
            self.keys.pending,
            self.keys.owner(job_id),
            message.queue_key if message else "",
            message.messages_key if message else "",
        ]
        args: list[str | bytes] = [
            "" if deadline is None else repr(deadline),
            job_id,
            owner,
            message.message_id if message else "",
            message.data if message else b"",
            json.dumps(fields),
            payload,
        ]
        with unavailable_on_error():
            reply = self._admit(keys=keys, args=args)
        if int(reply[0]) == 1:
            return Admission(created=True)
        token, engine, reason, state, current = (_opt(v) for v in reply[1:6])
        return Admission(False, token, engine, reason, state, current)

    def claim_temporal(self, job_id: str, *, reason: str, lease_s: float) -> Claim:
        """``SET owner temporal NX``; a temporal owner keeps the job leased in pending."""
        now = time.time()
        keys = [self.keys.owner(job_id), self.keys.job(job_id), self.keys.pending]
        with unavailable_on_error():
            owner, won, state = self._claim(
                keys=keys, args=[job_id, repr(now), repr(now + lease_s), reason]
            )
        return Claim(text(owner), bool(int(won)), _opt(state))

    def confirm_started(self, job_id: str) -> None:
        """The workflow start was confirmed: stop watching the job."""
        self.store.remove_pending(job_id)

    def abandon(self, job_id: str, token: str) -> bool:
        """Remove the record this dispatch created (token match) and its Temporal claim."""
        keys = [self.keys.job(job_id), self.keys.owner(job_id), self.keys.pending]
        with unavailable_on_error():
            return bool(self._abandon(keys=keys, args=[job_id, token]))

    def release(self, job_id: str, token: str, *, deadline: float) -> bool:
        """Hand a won Temporal claim back to Dramatiq, pending until ``deadline``.

        ``token`` must match the record's dispatch token; "" skips the check.
        """
        keys = [self.keys.owner(job_id), self.keys.job(job_id), self.keys.pending]
        with unavailable_on_error():
            return bool(
                self._release(keys=keys, args=[job_id, token, repr(deadline), repr(time.time())])
            )


def _opt(value: object) -> str | None:
    return None if value is None else text(value)
