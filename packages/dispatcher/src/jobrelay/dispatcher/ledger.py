"""The dispatcher's Redis steps: admit, claim for Temporal, confirm, undo, hand back."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from jobrelay.queue import Keys, LuaScript, RedisCall
from jobrelay.queue.calls import Arg, ignore
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
    """The dispatcher's atomic steps over a :class:`JobStore`'s keys, one round trip each.

    Each method builds the step as a :class:`RedisCall`: the dispatcher runs it
    with ``await AsyncRedis.run(call)`` on its event loop, the reconciler with
    ``call.run(client)`` on its thread. Running one raises
    :class:`RedisUnavailable` when Redis does not answer.
    """

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def admit(
        self,
        job_id: str,
        fields: dict[str, str],
        *,
        payload: str,
        deadline: float | None,
        owner: str = "",
        message: QueuedMessage | None = None,
    ) -> RedisCall[Admission]:
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
        args: list[Arg] = [
            "" if deadline is None else repr(deadline),
            job_id,
            owner,
            message.message_id if message else "",
            message.data if message else b"",
            json.dumps(fields),
            payload,
        ]
        return RedisCall.lua(_ADMIT, keys, args, _admission)

    def claim_temporal(self, job_id: str, *, reason: str, lease_s: float) -> RedisCall[Claim]:
        """``SET owner temporal NX``; a temporal owner keeps the job leased in pending."""
        now = time.time()
        keys = [self.keys.owner(job_id), self.keys.job(job_id), self.keys.pending]
        args = [job_id, repr(now), repr(now + lease_s), reason]
        return RedisCall.lua(_CLAIM, keys, args, _claim)

    def confirm_started(self, job_id: str) -> RedisCall[None]:
        """The workflow start was confirmed: stop watching the job."""
        return RedisCall(("ZREM", self.keys.pending, job_id), ignore)

    def owner(self, job_id: str) -> RedisCall[str | None]:
        """The engine that owns ``job_id``, None while unclaimed."""
        return RedisCall(("GET", self.keys.owner(job_id)), _opt)

    def abandon(self, job_id: str, token: str) -> RedisCall[bool]:
        """Remove the record this dispatch created (token match) and its Temporal claim."""
        keys = [self.keys.job(job_id), self.keys.owner(job_id), self.keys.pending]
        return RedisCall.lua(_ABANDON, keys, [job_id, token], _truthy)

    def release(self, job_id: str, token: str, *, deadline: float) -> RedisCall[bool]:
        """Hand a won Temporal claim back to Dramatiq, pending until ``deadline``.

        ``token`` must match the record's dispatch token; "" skips the check.
        """
        keys = [self.keys.owner(job_id), self.keys.job(job_id), self.keys.pending]
        args = [job_id, token, repr(deadline), repr(time.time())]
        return RedisCall.lua(_RELEASE, keys, args, _truthy)


_ADMIT = LuaScript(_scripts.ADMIT)
_CLAIM = LuaScript(_scripts.CLAIM_TEMPORAL)
_ABANDON = LuaScript(_scripts.ABANDON)
_RELEASE = LuaScript(_scripts.RELEASE)


def _admission(reply: list[Any]) -> Admission:
    if int(reply[0]) == 1:
        return Admission(created=True)
    token, engine, reason, state, current = (_opt(v) for v in reply[1:6])
    return Admission(False, token, engine, reason, state, current)


def _claim(reply: list[Any]) -> Claim:
    owner, won, state = reply
    return Claim(text(owner), bool(int(won)), _opt(state))


def _truthy(reply: Any) -> bool:
    return bool(reply)


def _opt(value: object) -> str | None:
    return None if value is None else text(value)
