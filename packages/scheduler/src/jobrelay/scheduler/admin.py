"""An operator's schedules: list and read them all, make and change run-time ones, pause,
resume, fire now and backfill. The web app's ``/schedules`` routes call it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from jobrelay.job_engine import InvalidPayload, Schedule, UnknownJob, get_job, list_schedules
from jobrelay.queue import RedisUnavailable
from pydantic import BaseModel, ValidationError

from .errors import InvalidSchedule, ScheduleConflict, ScheduleNotFound
from .firing import Firing, fire
from .store import ScheduleState, ScheduleStore

if TYPE_CHECKING:
    from jobrelay.dispatcher import Dispatcher

logger = logging.getLogger("jobrelay.scheduler")

MAX_BACKFILL = 1000
"""The most ticks one backfill fires."""


class ScheduleView(BaseModel):
    """A schedule as an operator sees it: its rule, where it lives, its next and last firings."""

    schedule: Schedule
    source: Literal["code", "runtime"]
    paused: bool
    next_ticks: list[datetime]
    """The next three firings (UTC), jitter included; empty while paused or past ``end``."""
    state: ScheduleState
    last_job_state: str | None
    """The state of the last firing's job; None when it has none or it is unknown."""


class ScheduleAdmin:
    """See the module's docstring. Redis calls run in a worker thread."""

    def __init__(self, dispatcher: Dispatcher, store: ScheduleStore) -> None:
        self.dispatcher = dispatcher
        self.store = store

    async def list_all(self) -> list[ScheduleView]:
        """Every schedule: code ones, then run-time ones, each sorted by id."""
        runtime = await asyncio.to_thread(self.store.runtime)
        code = {s.id: s for s in list_schedules()}
        found = [(s, "code") for s in code.values()] + [
            (s, "runtime") for i, s in sorted(runtime.items()) if i not in code
        ]
        return await self._views(found)  # type: ignore[arg-type]

    async def get(self, schedule_id: str) -> ScheduleView:
        """One schedule; :class:`ScheduleNotFound` when no schedule has the id."""
        schedule, source = await self._find(schedule_id)
        return (await self._views([(schedule, source)]))[0]

    async def create(self, data: dict[str, Any]) -> ScheduleView:
        """A new run-time schedule from its fields; its job must exist and accept its payload.

        :class:`InvalidSchedule` names a bad field, :class:`ScheduleConflict` a taken id.
        """
        schedule = self._validated(data)
        if any(s.id == schedule.id for s in list_schedules()):
            raise ScheduleConflict(schedule.id, "the id is taken by a schedule declared in code")
        if not await asyncio.to_thread(self.store.put, schedule, create=True):
            raise ScheduleConflict(schedule.id, "the id is taken")
        return await self.get(schedule.id)

    async def update(self, schedule_id: str, changes: dict[str, Any]) -> ScheduleView:
        """Change fields of a run-time schedule (its id stays)."""
        schedule, source = await self._find(schedule_id)
        self._runtime_only(schedule_id, source)
        if "id" in changes and changes["id"] != schedule_id:
            raise InvalidSchedule([{"loc": ("id",), "msg": "a schedule's id cannot change"}])
        merged = {**schedule.model_dump(mode="json", exclude_unset=False), **changes}
        await asyncio.to_thread(self.store.put, self._validated(merged), create=False)
        return await self.get(schedule_id)

    async def delete(self, schedule_id: str) -> None:
        """Forget a run-time schedule and its state; its jobs already fired stay."""
        _, source = await self._find(schedule_id)
        self._runtime_only(schedule_id, source)
        await asyncio.to_thread(self.store.delete, schedule_id)

    async def set_paused(self, schedule_id: str, paused: bool) -> ScheduleView:
        """Pause or resume any schedule (a code one too): no tick fires while paused, and
        the paused stretch is not caught up at the resume."""
        await self._find(schedule_id)
        await asyncio.to_thread(self.store.set_paused, schedule_id, paused)
        return await self.get(schedule_id)

    async def trigger(self, schedule_id: str) -> Firing:
        """Fire the schedule now, paused or not: a tick at this second."""
        schedule, _ = await self._find(schedule_id)
        now = datetime.now(UTC).replace(microsecond=0)
        firing = await fire(self.dispatcher, schedule, now)
        await self._note(schedule_id, [firing])
        return firing

    async def backfill(self, schedule_id: str, start: datetime, end: datetime) -> list[Firing]:
        """Fire every tick from ``start`` to ``end`` (inclusive) that has not fired yet.

        Ticks fired before are not run again (their job ids deduplicate).
        At most :data:`MAX_BACKFILL` ticks; :class:`InvalidSchedule` names ``end``
        when there are more, or when it is not after ``start``.
        """
        schedule, _ = await self._find(schedule_id)
        for field, moment in (("start", start), ("end", end)):
            if moment.tzinfo is None:
                raise InvalidSchedule([{"loc": (field,), "msg": "needs a timezone"}])
        if end <= start:
            raise InvalidSchedule([{"loc": ("end",), "msg": "must be after start"}])
        ticks = []
        for tick in schedule.ticks(start - timedelta(microseconds=1), end):
            ticks.append(tick)
            if len(ticks) > MAX_BACKFILL:
                msg = f"more than {MAX_BACKFILL} ticks between start and end: backfill in parts"
                raise InvalidSchedule([{"loc": ("end",), "msg": msg}])
        firings = []
        try:
            for tick in ticks:
                firings.append(await fire(self.dispatcher, schedule, tick))
        finally:
            # Those fired before a failure count too.
            await self._note(schedule_id, firings)
        return firings

    # -- helpers -------------------------------------------------------------------

    async def _note(self, schedule_id: str, firings: list[Firing]) -> None:
        """Show an operator's firings as the schedule's last (best effort: they ran)."""
        if not firings:
            return
        new = sum(1 for f in firings if f.new)
        last = firings[-1].job_id
        try:
            await asyncio.to_thread(
                self.store.note_firings, schedule_id, last, datetime.now(UTC), new=new
            )
        except RedisUnavailable as exc:
            logger.info("schedule %s: firings not noted: %s", schedule_id, exc)

    async def _find(self, schedule_id: str) -> tuple[Schedule, Literal["code", "runtime"]]:
        for schedule in list_schedules():
            if schedule.id == schedule_id:
                return schedule, "code"
        runtime = await asyncio.to_thread(self.store.runtime)
        if schedule_id in runtime:
            return runtime[schedule_id], "runtime"
        raise ScheduleNotFound(schedule_id)

    @staticmethod
    def _runtime_only(schedule_id: str, source: str) -> None:
        if source == "code":
            raise ScheduleConflict(schedule_id, "declared in code: change it there")

    @staticmethod
    def _validated(data: dict[str, Any]) -> Schedule:
        try:
            schedule = Schedule.model_validate(data)
        except ValidationError as exc:
            raise InvalidSchedule(
                [
                    # pydantic prefixes a validator's own message; the field says it all.
                    {
                        "loc": e["loc"],
                        "msg": e["msg"].removeprefix("Value error, "),
                        "type": e["type"],
                    }
                    for e in exc.errors(include_url=False)
                ]
            ) from None
        if schedule.job is None:
            raise InvalidSchedule([{"loc": ("job",), "msg": "name the job the schedule fires"}])
        try:
            get_job(schedule.job).parse_payload(schedule.payload)
        except UnknownJob:
            msg = f"no job named {schedule.job!r}"
            raise InvalidSchedule([{"loc": ("job",), "msg": msg}]) from None
        except InvalidPayload as exc:
            raise InvalidSchedule(
                [
                    {"loc": ("payload", *e.get("loc", ())), "msg": e.get("msg", "")}
                    for e in exc.errors
                ]
            ) from None
        return schedule

    async def _views(
        self, found: list[tuple[Schedule, Literal["code", "runtime"]]]
    ) -> list[ScheduleView]:
        ids = [schedule.id for schedule, _ in found]

        def read() -> tuple[dict[str, bool], dict[str, ScheduleState]]:
            return self.store.pauses(), self.store.states(ids)

        pauses, states = await asyncio.to_thread(read)
        now = datetime.now(UTC)
        views = []
        for schedule, source in found:
            paused = pauses.get(schedule.id, schedule.paused)
            state = states.get(schedule.id, ScheduleState())
            views.append(
                ScheduleView(
                    schedule=schedule,
                    source=source,
                    paused=paused,
                    next_ticks=[] if paused else _next(schedule, now, 3),
                    state=state,
                    last_job_state=await self._job_state(state.last_job),
                )
            )
        return views

    async def _job_state(self, job_id: str | None) -> str | None:
        if job_id is None:
            return None
        try:
            return (await self.dispatcher.get_status(job_id)).state.value
        except Exception:
            return None  # expired, or neither engine answers: unknown, not an error


def _next(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    ticks: list[datetime] = []
    cursor = after
    while len(ticks) < count:
        tick = schedule.next_tick(cursor)
        if tick is None:
            break
        ticks.append(tick + timedelta(seconds=schedule.delay_of(tick)))
        cursor = tick
    return ticks
