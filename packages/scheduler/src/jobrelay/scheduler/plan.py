"""Which ticks of a schedule are due now: catch-up after downtime, jitter. Pure arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta

from jobrelay.job_engine import Schedule


def fire_at(schedule: Schedule, tick: datetime) -> datetime:
    """When ``tick`` is due: its instant plus its share of the schedule's jitter."""
    return tick + timedelta(seconds=schedule.delay_of(tick))


def due_ticks(
    schedule: Schedule, last: datetime, now: datetime, watching_since: datetime
) -> list[datetime]:
    """The ticks after ``last`` (the last one handled) to fire now, oldest first.

    A tick that fell due while this scheduler was watching (after
    ``watching_since``) is on time and always fires, however late the pass
    that sees it. One that fell due before was missed (every scheduler was
    down) and follows ``schedule.catchup``: ``latest`` fires the most recent,
    ``all`` those within ``catchup_window`` of now, ``none`` none. Never walks
    more ticks than that needs, however long the downtime.
    """
    recent_from = max(last, watching_since - schedule.jitter)
    recent = [t for t in schedule.ticks(recent_from, now) if fire_at(schedule, t) <= now]
    on_time = [t for t in recent if fire_at(schedule, t) > watching_since]
    missed = [t for t in recent if t not in on_time]
    if recent_from > last and schedule.catchup != "none":
        if schedule.catchup == "latest":
            older = schedule.last_tick(recent_from)
            if older is not None and older > last and not missed:
                missed = [older]
        else:
            # ticks() starts after its bound: a tick right at the window's edge counts.
            window_from = max(last, now - schedule.catchup_window - timedelta(microseconds=1))
            if window_from < recent_from:
                missed = list(schedule.ticks(window_from, recent_from)) + missed
    if schedule.catchup == "none":
        missed = []
    elif schedule.catchup == "latest":
        missed = missed[-1:]
    elif schedule.catchup == "all":
        missed = [t for t in missed if t >= now - schedule.catchup_window]
    return [*missed, *on_time]


def handled_until(schedule: Schedule, last: datetime, now: datetime) -> datetime:
    """The latest tick due by ``now`` (fired, or passed over by the catch-up policy): the
    next pass starts after it. ``last`` when no newer tick is due."""
    latest = schedule.last_tick(now)
    if latest is not None and fire_at(schedule, latest) > now:
        latest = schedule.last_tick(latest - timedelta(seconds=1))
    if latest is None or latest <= last:
        return last
    return latest
