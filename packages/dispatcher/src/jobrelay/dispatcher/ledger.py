"""The dispatcher's Redis steps: admit, claim for Temporal, confirm, undo, hand back."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
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
    wake_key: str = ""
    """The queue's wake-up list: a token pushed there wakes an idle consumer."""


@dataclass(frozen=True, slots=True)
class UniqueWindow:
    """A job's uniqueness window: its key (``Keys.flow_unique``) and length."""

    key: str
    window_s: float


@dataclass(frozen=True, slots=True)
class AdmitEntry:
    """One job of :meth:`Ledger.admit_many`: the arguments of :meth:`Ledger.admit`."""

    job_id: str
    fields: dict[str, str]
    payload: str
    deadline: float | None
    owner: str = ""
    message: QueuedMessage | None = None
    unique: UniqueWindow | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of :meth:`Ledger.admit`: created now, or what the existing record says."""

    created: bool
    token: str | None = None
    engine: str | None = None
    reason: str | None = None
    state: str | None = None
    owner: str | None = None
    job_id: str | None = None
    """The window's first job, when a uniqueness window answered (another job's id)."""


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
        unique: UniqueWindow | None = None,
    ) -> RedisCall[Admission]:
        """Create the record (``fields`` + ``payload``) if absent, add it to pending, and
        optionally claim or enqueue.

        ``deadline`` None keeps the job out of the pending set.
        ``owner="temporal"`` claims the job in the same step (a job routed to
        Temporal); ``message`` is pushed to its Dramatiq queue in the same step.
        Nothing is written when a record already exists, nor while ``unique``'s
        window holds another job whose record exists (the admission names it);
        otherwise this job opens the window.
        """
        entry = AdmitEntry(job_id, fields, payload, deadline, owner, message, unique)
        keys, args = self._admit_parts(entry)
        return RedisCall.lua(_ADMIT, keys, args, _admission)

    def admit_many(self, entries: Sequence[AdmitEntry]) -> RedisCall[list[Admission]]:
        """:meth:`admit` for each entry, in one script call; one admission per entry, in order.

        Each entry is admitted as on its own: an entry whose job was recorded
        before, or by an earlier entry of the same call, writes nothing.
        """
        keys: list[str] = []
        args: list[Arg] = []
        for entry in entries:
            entry_keys, entry_args = self._admit_parts(entry)
            keys += entry_keys
            args += entry_args
        return RedisCall.lua(_ADMIT_MANY, keys, args, _admissions)

    def _admit_parts(self, entry: AdmitEntry) -> tuple[list[str], list[Arg]]:
        message = entry.message
        keys = [
            self.keys.job(entry.job_id),
            self.keys.pending,
            self.keys.owner(entry.job_id),
            message.queue_key if message else "",
            message.messages_key if message else "",
            message.wake_key if message else "",
            self.keys.index,
            entry.unique.key if entry.unique else "",
        ]
        args: list[Arg] = [
            "" if entry.deadline is None else repr(entry.deadline),
            entry.job_id,
            entry.owner,
            message.message_id if message else "",
            message.data if message else b"",
            json.dumps(entry.fields),
            entry.payload,
            max(1, round(entry.unique.window_s * 1000)) if entry.unique else 0,
        ]
        return keys, args

    def readmit(
        self,
        job_id: str,
        *,
        fresh: bool,
        token: str,
        engine: str,
        reason: str,
        deadline: float | None,
        owner: str = "",
        message: QueuedMessage | None = None,
    ) -> RedisCall[int | str | None]:
        """Queue a failed, dead or cancelled job again (script ``READMIT``).

        The call answers 1 when done, the state when the job is in no state to
        retry, None when there is no record. ``fresh`` drops its step memo, so
        finished steps run again.
        """
        keys = [
            self.keys.job(job_id),
            self.keys.owner(job_id),
            self.keys.steps(job_id),
            self.keys.pending,
            message.queue_key if message else "",
            message.messages_key if message else "",
            message.wake_key if message else "",
            self.keys.index,
            self.keys.attempts(job_id),
            self.keys.step_info(job_id),
        ]
        args: list[Arg] = [
            "1" if fresh else "",
            token,
            repr(time.time()),
            "" if deadline is None else repr(deadline),
            job_id,
            engine,
            owner,
            message.message_id if message else "",
            message.data if message else b"",
            reason,
        ]
        return RedisCall.lua(_READMIT, keys, args, _readmission)

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
        keys = [self.keys.job(job_id), self.keys.owner(job_id), self.keys.pending, self.keys.index]
        return RedisCall.lua(_ABANDON, keys, [job_id, token], _truthy)

    def release(self, job_id: str, token: str, *, deadline: float) -> RedisCall[bool]:
        """Hand a won Temporal claim back to Dramatiq, pending until ``deadline``.

        ``token`` must match the record's dispatch token; "" skips the check.
        """
        keys = [self.keys.owner(job_id), self.keys.job(job_id), self.keys.pending]
        args = [job_id, token, repr(deadline), repr(time.time())]
        return RedisCall.lua(_RELEASE, keys, args, _truthy)


_ADMIT = LuaScript(_scripts.ADMIT)
_ADMIT_MANY = LuaScript(_scripts.ADMIT_MANY)
_READMIT = LuaScript(_scripts.READMIT)
_CLAIM = LuaScript(_scripts.CLAIM_TEMPORAL)
_ABANDON = LuaScript(_scripts.ABANDON)
_RELEASE = LuaScript(_scripts.RELEASE)


def _admission(reply: list[Any]) -> Admission:
    if int(reply[0]) == 1:
        return Admission(created=True)
    token, engine, reason, state, current = (_opt(v) for v in reply[1:6])
    first = _opt(reply[6]) if len(reply) > 6 else None
    return Admission(False, token, engine, reason, state, current, first)


def _admissions(reply: list[list[Any]]) -> list[Admission]:
    return [_admission(one) for one in reply]


def _readmission(reply: list[Any]) -> int | str | None:
    status = int(reply[0])
    if status == -1:
        return None
    return 1 if status == 1 else text(reply[1])


def _claim(reply: list[Any]) -> Claim:
    owner, won, state = reply
    return Claim(text(owner), bool(int(won)), _opt(state))


def _truthy(reply: Any) -> bool:
    return bool(reply)


def _opt(value: object) -> str | None:
    return None if value is None else text(value)
