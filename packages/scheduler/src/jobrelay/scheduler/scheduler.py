"""The scheduler loop: any number of them at once, no leader, each tick run once.

Every pass reads the schedules (code and run-time), their pauses and their
shared state from Redis, fires the due ticks through the dispatcher and
moves each schedule's last handled tick forward. Several schedulers firing
the same tick ask for the same job id, which both engines keep once; a
scheduler that cannot reach Redis goes on from what it remembers, and its
firings go to Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jobrelay.job_engine import JobrelayError, Schedule, list_schedules
from jobrelay.queue import RedisUnavailable

from .firing import Firing, fire, unfinished
from .plan import due_ticks, handled_until
from .store import ScheduleState, ScheduleStore

if TYPE_CHECKING:
    from jobrelay.dispatcher import Dispatcher

logger = logging.getLogger("jobrelay.scheduler")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Seen:
    """What one pass read: the schedules, the operators' pauses, the shared states."""

    runtime: dict[str, Schedule]
    pauses: dict[str, bool]
    states: dict[str, ScheduleState]


class Scheduler:
    """Fires every schedule's ticks through ``dispatcher``; see the module's docstring."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        store: ScheduleStore,
        *,
        interval_s: float = 0.25,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.dispatcher = dispatcher
        self.store = store
        self.interval_s = interval_s
        self.clock = clock
        self.watching_since = clock()
        """Ticks due since then were seen on time; older ones were missed (catch-up)."""
        self._memory: dict[str, ScheduleState] = {}
        self._runtime: dict[str, Schedule] = {}
        self._pauses: dict[str, bool] = {}

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run passes every ``interval_s`` until ``stop``; a failing pass is logged, not fatal."""
        self.watching_since = self.clock()
        while not stop.is_set():
            try:
                await self.pass_once()
            except Exception:
                logger.exception("scheduler pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)

    def schedules(self) -> list[Schedule]:
        """Code schedules, then run-time ones as last read (a code id wins a clash)."""
        code = list_schedules()
        ids = {s.id for s in code}
        return code + [s for i, s in sorted(self._runtime.items()) if i not in ids]

    async def pass_once(self) -> list[Firing]:
        """One pass over every schedule; the ticks fired."""
        now = self.clock()
        seen = await self._read()
        firings: list[Firing] = []
        for schedule in self.schedules():
            state = self._merge(schedule.id, seen.states.get(schedule.id) if seen else None)
            paused = self._pauses.get(schedule.id, schedule.paused)
            try:
                firings += await self._pass_one(schedule, state, paused, now, seen is not None)
            except JobrelayError as exc:
                logger.warning("schedule %s: %s", schedule.id, exc)
        return firings

    async def _read(self) -> _Seen | None:
        """Run-time schedules, pauses and states from Redis; None while it does not answer."""
        ids = [s.id for s in list_schedules()]

        def read() -> _Seen:
            runtime = self.store.runtime()
            pauses = self.store.pauses()
            states = self.store.states(sorted({*ids, *runtime}))
            return _Seen(runtime, pauses, states)

        try:
            seen = await asyncio.to_thread(read)
        except RedisUnavailable as exc:
            logger.info("scheduler goes on from memory: %s", exc)
            return None
        self._runtime, self._pauses = seen.runtime, seen.pauses
        return seen

    def _merge(self, schedule_id: str, stored: ScheduleState | None) -> ScheduleState:
        """The furthest of what Redis and this process know (Redis may have missed writes)."""
        mine = self._memory.get(schedule_id)
        if stored is None:
            return mine or ScheduleState()
        if mine is None or mine.last is None:
            return stored
        if stored.last is None or mine.last > stored.last:
            return replace_state(stored, last=mine.last, last_job=mine.last_job)
        return stored

    async def _pass_one(
        self, schedule: Schedule, state: ScheduleState, paused: bool, now: datetime, redis_ok: bool
    ) -> list[Firing]:
        last = state.last
        if last is None:
            # First sight of this schedule: its ticks start now, nothing before.
            self._remember(schedule.id, state, last=now)
            await self._save(schedule.id, now, redis_ok)
            return []
        if paused:
            # Ticks of a paused stretch are passed over, not caught up at the resume.
            moved = handled_until(schedule, last, now)
            if moved > last:
                self._remember(schedule.id, state, last=moved)
                await self._save(schedule.id, moved, redis_ok)
            return []
        firings: list[Firing] = []
        previous = state.last_job
        buffered: datetime | bool | None = False
        skipped = 0
        if state.buffered is not None and not await unfinished(self.dispatcher, previous):
            firing = await fire(self.dispatcher, schedule, state.buffered)
            firings.append(firing)
            previous, buffered = firing.job_id, None
        reached = last
        for tick in due_ticks(schedule, last, now, self.watching_since):
            if schedule.overlap != "allow" and await unfinished(self.dispatcher, previous):
                if schedule.overlap == "skip":
                    skipped += 1
                else:
                    buffered = tick
                reached = tick
                continue
            try:
                firing = await fire(self.dispatcher, schedule, tick)
            except JobrelayError as exc:
                # Neither engine took it: this tick and the later ones wait for the next pass.
                logger.warning("schedule %s: tick %s not fired: %s", schedule.id, tick, exc)
                self._remember(schedule.id, state, last=reached, last_job=previous)
                await self._save(schedule.id, reached, redis_ok, firings, skipped, buffered)
                return firings
            firings.append(firing)
            previous, reached = firing.job_id, tick
        moved = max(reached, handled_until(schedule, last, now))
        if buffered is not False:
            state = replace_state(
                state, buffered=buffered if isinstance(buffered, datetime) else None
            )
        self._remember(schedule.id, state, last=moved, last_job=previous)
        if moved > last or firings or skipped or buffered is not False:
            await self._save(schedule.id, moved, redis_ok, firings, skipped, buffered)
        return firings

    def _remember(
        self, schedule_id: str, state: ScheduleState, *, last: datetime, last_job: str | None = None
    ) -> None:
        self._memory[schedule_id] = replace_state(
            state, last=last, last_job=last_job or state.last_job
        )

    async def _save(
        self,
        schedule_id: str,
        last: datetime,
        redis_ok: bool,
        firings: list[Firing] | None = None,
        skipped: int = 0,
        buffered: datetime | bool | None = False,
    ) -> None:
        if not redis_ok:
            return  # remembered in memory; written at the first pass Redis answers
        newest = firings[-1] if firings else None
        fired = (newest.job_id, self.clock()) if newest is not None else None
        new = sum(1 for f in firings or () if f.new)

        def write() -> None:
            self.store.advance(
                schedule_id, last, fired=fired, new=new, skipped=skipped, buffered=buffered
            )

        try:
            await asyncio.to_thread(write)
        except RedisUnavailable as exc:
            logger.info("schedule %s: state kept in memory: %s", schedule_id, exc)


def replace_state(state: ScheduleState, **changes: object) -> ScheduleState:
    """``state`` with ``changes`` (a copy)."""
    return state.model_copy(update=changes)
