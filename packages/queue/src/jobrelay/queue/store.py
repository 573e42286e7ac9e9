from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import redis

from . import _scripts, codec
from .connection import unavailable_on_error
from .constants import Keys
from .records import JobRecord, JobState, hash_text
from .settings import QueueSettings


class StepTake(NamedTuple):
    """What :meth:`JobStore.take_step` found."""

    stored: str | None
    """The step's stored result (JSON text) if it finished."""
    leased: bool
    """Whether the caller holds the step's lease (never when ``stored``)."""
    cancel_requested: bool


class ClaimedStart(NamedTuple):
    """What :meth:`JobStore.claim_and_start` found and did."""

    state: JobState | None
    """The job's state before the call; None when it has no record (nothing claimed)."""
    owner: str | None
    """The engine that owns the job after the call."""
    memo: dict[str, str] | None
    """The step memo when the attempt started; None when it did not."""


class JobStore:
    """The Redis side of a job: record, owner claim, step memo, progress, pending set.

    Every method raises :class:`RedisUnavailable` when Redis does not answer.
    State changes after a job finished are refused (they return ``False``),
    so a late duplicate can never overwrite a result.
    """

    def __init__(self, client: redis.Redis, keys: Keys, *, retention_s: int = 7 * 24 * 3600):
        self.client = client
        self.keys = keys
        self.retention_s = retention_s
        self._create = client.register_script(_scripts.CREATE)
        self._claim = client.register_script(_scripts.CLAIM)
        self._claim_read = client.register_script(_scripts.CLAIM_READ)
        self._update = client.register_script(_scripts.UPDATE)
        self._finish = client.register_script(_scripts.FINISH)
        self._claim_start = client.register_script(_scripts.CLAIM_START)
        self._lease_due = client.register_script(_scripts.LEASE_DUE)
        self._take_step = client.register_script(_scripts.TAKE_STEP)
        self._drop_lease = client.register_script(_scripts.DROP_LEASE)
        self._remove = client.register_script(_scripts.REMOVE)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: QueueSettings) -> JobStore:
        """A store under the prefix and retention of ``settings``."""
        return cls(client, settings.keys, retention_s=settings.retention_s)

    # -- record -------------------------------------------------------------

    def create(self, record: JobRecord, *, pickup_deadline: float | None = None) -> bool:
        """Write ``record`` only if no record exists; True when this call created it.

        With ``pickup_deadline`` the job also enters the pending set, which the
        reconciler watches for jobs no worker claimed in time.
        """
        now = time.time()
        record = record.model_copy(update={"created_at": now, "updated_at": now})
        args: list[str] = ["" if pickup_deadline is None else repr(pickup_deadline), record.job_id]
        for field, value in record.to_hash().items():
            args += [field, value]
        with unavailable_on_error():
            created = self._create(
                keys=[self.keys.job(record.job_id), self.keys.pending, self.keys.index],
                args=args,
            )
        return bool(created)

    def get(self, job_id: str) -> JobRecord | None:
        """The record of ``job_id``, or None when there is none (or it expired)."""
        with unavailable_on_error():
            raw = self.client.hgetall(self.keys.job(job_id))
        return (
            JobRecord.from_hash({codec.text(k): codec.text(v) for k, v in raw.items()})
            if raw
            else None
        )

    def update(self, job_id: str, **fields: Any) -> bool:
        """Set fields on an unfinished record; False when missing or already finished."""
        return self._run_update(job_id, fields) == 1

    def mark_sleeping(self, job_id: str, *, wake_at: float) -> bool:
        """Note that the job waits until ``wake_at`` (epoch seconds)."""
        return self.update(job_id, state=JobState.SLEEPING, wake_at=wake_at)

    def set_progress(self, job_id: str, percent: int, message: str = "") -> bool:
        """Record progress (clamped to 0..100) readable while the job runs."""
        return self.update(job_id, progress=max(0, min(100, percent)), message=message)

    def request_cancel(self, job_id: str) -> bool:
        """Ask a running job to stop at its next step; False if missing or finished."""
        return self.update(job_id, cancel_requested=True)

    def cancel_requested(self, job_id: str) -> bool:
        """Whether someone asked ``job_id`` to stop."""
        with unavailable_on_error():
            flag = self.client.hget(self.keys.job(job_id), "cancel_requested")
        return flag == b"1"

    def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        result: Any = None,
        error: str | None = None,
    ) -> bool:
        """Move to a finished state once; start the retention clock on all its keys.

        Returns False when the job had already finished (the first outcome wins).
        """
        if not state.finished:
            raise ValueError(f"{state} is not a finished state")
        now = time.time()
        fields = {"state": state.value, "finished_at": repr(now), "updated_at": repr(now)}
        if state is JobState.SUCCEEDED:
            fields["result"] = codec.dumps(result)
            fields["progress"] = "100"
        if error is not None:
            fields["error"] = error
        args: list[str] = [str(self.retention_s), job_id]
        for field, value in fields.items():
            args += [field, value]
        keys = [
            self.keys.job(job_id),
            self.keys.owner(job_id),
            self.keys.steps(job_id),
            self.keys.pending,
            self.keys.index,
        ]
        with unavailable_on_error():
            return bool(self._finish(keys=keys, args=args) == 1)

    def remove(self, job_id: str) -> tuple[bool, JobState] | None:
        """Delete a finished job's record and keys: ``(deleted, state)``, None with no record.

        A job that has not finished is left as it is (``deleted`` False).
        """
        keys = [self.keys.index, *self.keys.job_keys(job_id)]
        with unavailable_on_error():
            reply = self._remove(keys=keys, args=[job_id])
        if int(reply[0]) == -1:
            return None
        return int(reply[0]) == 1, JobState(codec.text(reply[1]))

    # -- ownership ----------------------------------------------------------

    def claim(self, job_id: str, engine: str) -> str:
        """``SET owner engine NX``; returns the owner after the call.

        The caller owns the job exactly when the return value equals ``engine``.
        """
        keys = [self.keys.owner(job_id), self.keys.job(job_id), self.keys.pending]
        with unavailable_on_error():
            owner = self._claim(keys=keys, args=[engine, job_id, repr(time.time())])
        return codec.text(owner)

    def claim_record(self, job_id: str, engine: str) -> tuple[JobRecord | None, str | None]:
        """:meth:`claim` and :meth:`get` in one atomic round trip: ``(record, owner)``.

        Claims only a job that has a record; ``(None, None)`` when it has none.
        """
        keys = [self.keys.owner(job_id), self.keys.job(job_id), self.keys.pending]
        with unavailable_on_error():
            reply = self._claim_read(keys=keys, args=[engine, job_id, repr(time.time())])
        if not reply:
            return None, None
        return JobRecord.from_hash(_pairs(reply[1:])), codec.text(reply[0])

    def claim_and_start(self, job_id: str, engine: str, *, attempt: int) -> ClaimedStart:
        """:meth:`claim` a job that has a record, then start attempt ``attempt``, atomically.

        The attempt starts (state running, step memo returned) only when
        ``engine`` owns the job, it has not finished and no cancel was asked for.
        """
        return self.claim_and_start_many(engine, [(job_id, attempt)])[0]

    def start_or_create(self, record: JobRecord, engine: str, *, attempt: int) -> ClaimedStart:
        """:meth:`claim_and_start`, creating ``record`` first if the job has none.

        One round trip when the record exists (the dispatcher wrote it); a job
        that reached an engine while Redis was down has none yet and costs three.
        """
        started = self.claim_and_start(record.job_id, engine, attempt=attempt)
        if started.state is None:
            self.create(record)
            started = self.claim_and_start(record.job_id, engine, attempt=attempt)
        return started

    def claim_and_start_many(
        self, engine: str, attempts: Sequence[tuple[str, int]]
    ) -> list[ClaimedStart]:
        """:meth:`claim_and_start` for each ``(job_id, attempt)``, all in one round trip."""
        keys = [self.keys.pending, self.keys.index]
        args = [engine, repr(time.time())]
        for job_id, attempt in attempts:
            keys += [self.keys.owner(job_id), self.keys.job(job_id), self.keys.steps(job_id)]
            args += [job_id, str(attempt)]
        with unavailable_on_error():
            replies = self._claim_start(keys=keys, args=args)
        return [_claimed_start(reply) for reply in replies]

    def owner(self, job_id: str) -> str | None:
        """The engine that owns ``job_id``, or None while unclaimed."""
        with unavailable_on_error():
            owner = self.client.get(self.keys.owner(job_id))
        return codec.text(owner) if owner is not None else None

    # -- step memo ----------------------------------------------------------

    def load_step(self, job_id: str, step_id: str) -> str | None:
        """One memoised step result of ``job_id`` as JSON text; None if it has none."""
        with unavailable_on_error():
            raw = self.client.hget(self.keys.steps(job_id), step_id)
        return None if raw is None else codec.text(raw)

    def save_step(self, job_id: str, step_id: str, value: Any) -> str:
        """Memoise a step's result as JSON; returns the stored text."""
        encoded = codec.dumps(value)
        with unavailable_on_error():
            self.client.hset(self.keys.steps(job_id), step_id, encoded)
        return encoded

    def take_step(self, job_id: str, step_id: str, holder: str, ttl_s: float) -> StepTake:
        """Before running ``step_id``: its stored result, or its lease for ``holder``.

        One round trip: the stored result if the step finished (no lease
        taken), else whether ``holder`` now holds the step's lease for
        ``ttl_s`` (False: another holder runs it), and the cancel flag.
        """
        keys = [
            self.keys.steps(job_id),
            self.keys.job(job_id),
            self.keys.step_lease(job_id, step_id),
        ]
        with unavailable_on_error():
            status, stored, cancel = self._take_step(
                keys=keys, args=[step_id, holder, max(1, round(ttl_s * 1000))]
            )
        return StepTake(
            stored=codec.text(stored) if int(status) == 1 else None,
            leased=int(status) == 0,
            cancel_requested=codec.text(cancel) == "1",
        )

    def drop_step_lease(self, job_id: str, step_id: str, holder: str) -> None:
        """Free ``holder``'s lease on ``step_id`` early (it failed: another may try now)."""
        with unavailable_on_error():
            self._drop_lease(keys=[self.keys.step_lease(job_id, step_id)], args=[holder])

    # -- pending set and wake-ups --------------------------------------------

    def remove_pending(self, job_id: str) -> None:
        """Stop watching ``job_id`` for a claim."""
        with unavailable_on_error():
            self.client.zrem(self.keys.pending, job_id)

    def schedule_wakeup(self, member: str, at: float) -> None:
        """Park ``member`` (an encoded message, say) until ``at`` (epoch seconds)."""
        with unavailable_on_error():
            self.client.zadd(self.keys.wakeups, {member: at})

    def lease_due_wakeups(
        self, now: float | None = None, limit: int = 100, *, lease_s: float = 30.0
    ) -> list[str]:
        """Take the wake-ups that are due, each by one caller only, for ``lease_s``.

        The caller hands each on and then calls :meth:`ack_wakeup`. A caller
        that dies in between loses nothing: the wake-up is due again when the
        lease ends (a possible duplicate, which the owner claim and step memo
        absorb).
        """
        return self._lease(self.keys.wakeups, now, limit, lease_s)

    def lease_overdue(self, *, limit: int, lease_s: float, now: float | None = None) -> list[str]:
        """Take up to ``limit`` job ids whose pickup deadline passed, each by one caller only.

        They stay pending, due again ``lease_s`` from now unless the caller
        settles them first (a caller that dies loses nothing).
        """
        return self._lease(self.keys.pending, now, limit, lease_s)

    def _lease(self, key: str, now: float | None, limit: int, lease_s: float) -> list[str]:
        now = time.time() if now is None else now
        with unavailable_on_error():
            due = self._lease_due(keys=[key], args=[repr(now), limit, repr(now + lease_s)])
        return [codec.text(d) for d in due]

    def ack_wakeup(self, member: str) -> None:
        """Forget a wake-up that was handed on."""
        with unavailable_on_error():
            self.client.zrem(self.keys.wakeups, member)

    def bury_wakeup(self, member: str, reason: str) -> None:
        """Move a wake-up that cannot be handed on to ``buried_wakeups``, with ``reason``.

        Nothing is dropped: an operator can read it there, and a fixed member
        can be put back with :meth:`schedule_wakeup`.
        """
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.keys.buried_wakeups, member, reason)
            pipe.zrem(self.keys.wakeups, member)
            pipe.execute()

    def _run_update(self, job_id: str, fields: dict[str, Any]) -> int:
        fields = {**fields, "updated_at": time.time()}
        args: list[str] = [job_id]
        for field, value in fields.items():
            args += [field, hash_text(value)]
        with unavailable_on_error():
            return int(self._update(keys=[self.keys.job(job_id), self.keys.index], args=args))


def _claimed_start(reply: list[Any]) -> ClaimedStart:
    if not reply:
        return ClaimedStart(None, None, None)
    owner, state, memo = reply
    return ClaimedStart(
        JobState(codec.text(state)),
        codec.text(owner),
        _pairs(memo) if isinstance(memo, list) else None,
    )


def _pairs(flat: list[Any]) -> dict[str, str]:
    """A field/value list from a script reply as a dict of text."""
    items = [codec.text(item) for item in flat]
    return dict(zip(items[::2], items[1::2], strict=True))
