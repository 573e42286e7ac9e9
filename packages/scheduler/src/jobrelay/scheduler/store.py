"""Schedules in Redis: the ones made at run time, operators' pauses, and each one's state.

Code schedules need nothing stored to fire: a scheduler that cannot reach
Redis fires them from memory (and on Temporal, through the dispatcher).
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from jobrelay.job_engine import Schedule
from jobrelay.queue import Keys, unavailable_on_error
from jobrelay.queue.codec import text
from pydantic import BaseModel, ValidationError

# KEYS: state. ARGV: last tick handled (epoch), then field/value pairs. The last
# tick only moves forward: schedulers that write in any order agree.
_ADVANCE = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'last') or '-1')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'last', ARGV[1]) end
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
return 1
"""


class ScheduleState(BaseModel):
    """What the schedulers remember of one schedule (shared through Redis)."""

    last: datetime | None = None
    """The last tick handled: fired, skipped or passed over by the catch-up policy."""
    last_job: str | None = None
    """The job id of the last firing."""
    last_fired_at: datetime | None = None
    buffered: datetime | None = None
    """``overlap="buffer_one"``: the tick waiting for the previous firing to end."""
    fired: int = 0
    skipped: int = 0


class ScheduleStore:
    """Run-time schedules, pauses and states in Redis. Blocking: call it from a thread.

    Every method raises :class:`RedisUnavailable` when Redis does not answer.
    """

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._advance = client.register_script(_ADVANCE)

    # -- run-time schedules ----------------------------------------------------

    def runtime(self) -> dict[str, Schedule]:
        """Every schedule made at run time, by id (an unreadable entry is left out)."""
        with unavailable_on_error():
            raw = self.client.hgetall(self.keys.schedules)
        out = {}
        for key, value in raw.items():
            try:
                schedule = Schedule.model_validate_json(value)
            except ValidationError:
                continue  # written by a newer version: not ours to fire
            out[text(key)] = schedule
        return out

    def put(self, schedule: Schedule, *, create: bool) -> bool:
        """Store ``schedule``; with ``create`` only when its id is free. False when not stored."""
        with unavailable_on_error():
            if create:
                return bool(
                    self.client.hsetnx(self.keys.schedules, schedule.id, schedule.model_dump_json())
                )
            self.client.hset(self.keys.schedules, schedule.id, schedule.model_dump_json())
        return True

    def delete(self, schedule_id: str) -> bool:
        """Forget a run-time schedule, its pause and its state; False when there was none."""
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=True)
            pipe.hdel(self.keys.schedules, schedule_id)
            pipe.hdel(self.keys.paused_schedules, schedule_id)
            pipe.delete(self.keys.schedule_state(schedule_id))
            removed, _, _ = pipe.execute()
        return bool(removed)

    # -- pauses ------------------------------------------------------------------

    def pauses(self) -> dict[str, bool]:
        """Operators' pauses and resumes by schedule id (over a schedule's own ``paused``)."""
        with unavailable_on_error():
            raw = self.client.hgetall(self.keys.paused_schedules)
        return {text(k): text(v) == "1" for k, v in raw.items()}

    def set_paused(self, schedule_id: str, paused: bool) -> None:
        with unavailable_on_error():
            self.client.hset(self.keys.paused_schedules, schedule_id, "1" if paused else "0")

    # -- state -------------------------------------------------------------------

    def states(self, schedule_ids: list[str]) -> dict[str, ScheduleState]:
        """The state of each schedule (an empty one when none was stored), in one round trip."""
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=False)
            for schedule_id in schedule_ids:
                pipe.hgetall(self.keys.schedule_state(schedule_id))
            raws = pipe.execute()
        return {
            schedule_id: _state({text(k): text(v) for k, v in raw.items()})
            for schedule_id, raw in zip(schedule_ids, raws, strict=True)
        }

    def advance(
        self,
        schedule_id: str,
        last: datetime,
        *,
        fired: tuple[str, datetime] | None = None,
        new: int = 0,
        skipped: int = 0,
        buffered: datetime | bool | None = False,
    ) -> None:
        """Move the last tick handled forward (never back) and note what this pass did.

        ``fired`` is the last firing's (job id, when); ``new`` how many firings
        of this pass were new (one another scheduler made first is not counted twice);
        ``buffered`` a tick to keep (None clears it, False leaves it).
        """
        args: list[str | int | float] = [_epoch(last)]
        if fired is not None:
            args += ["last_job", fired[0], "last_fired_at", _epoch(fired[1])]
        if buffered is not False:
            args += ["buffered", "" if buffered is None or buffered is True else _epoch(buffered)]
        key = self.keys.schedule_state(schedule_id)
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=False)
            self._advance(keys=[key], args=args, client=pipe)
            if new:
                pipe.hincrby(key, "fired", new)
            if skipped:
                pipe.hincrby(key, "skipped", skipped)
            pipe.execute()

    def note_firings(self, schedule_id: str, job_id: str, at: datetime, *, new: int) -> None:
        """An operator's firings (trigger, backfill): the last one's job and time, and
        how many were new. The last tick handled is left alone: these are extra ticks,
        not the schedule's own."""
        key = self.keys.schedule_state(schedule_id)
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(key, mapping={"last_job": job_id, "last_fired_at": _epoch(at)})
            if new:
                pipe.hincrby(key, "fired", new)
            pipe.execute()


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _moment(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


def _state(raw: dict[str, str]) -> ScheduleState:
    return ScheduleState(
        last=_moment(raw.get("last")),
        last_job=raw.get("last_job") or None,
        last_fired_at=_moment(raw.get("last_fired_at")),
        buffered=_moment(raw.get("buffered")),
        fired=int(raw.get("fired") or 0),
        skipped=int(raw.get("skipped") or 0),
    )
