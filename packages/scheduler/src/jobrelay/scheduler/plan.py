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
    # Due just before watching began, within the jitter: missed, and the newest missed.
    missed = [t for t in recent if t not in on_time]
    return [*_caught_up(schedule, last, now, recent_from, missed), *on_time]


def _caught_up(
    schedule: Schedule, last: datetime, now: datetime, recent_from: datetime, missed: list[datetime]
) -> list[datetime]:
    """The missed ticks the catch-up policy fires: ``missed`` and, walked only as far as
    the policy needs, those between ``last`` and ``recent_from``."""
    if schedule.catchup == "none":
        return []
    if schedule.catchup == "latest":
        if missed:
            return missed[-1:]
        older = schedule.last_tick(recent_from)
        return [older] if older is not None and older > last else []
    # ticks() starts after its bound: a tick right at the window's edge counts.
    window_from = max(last, now - schedule.catchup_window - timedelta(microseconds=1))
    older_ticks = (
        list(schedule.ticks(window_from, recent_from)) if window_from < recent_from else []
    )
    return [t for t in [*older_ticks, *missed] if t >= now - schedule.catchup_window]


def handled_until(schedule: Schedule, last: datetime, now: datetime) -> datetime:
    """The latest tick due by ``now`` (fired, or passed over by the catch-up policy): the
    next pass starts after it. ``last`` when no newer tick is due."""
    latest = schedule.last_tick(now)
    if latest is not None and fire_at(schedule, latest) > now:
        latest = schedule.last_tick(latest - timedelta(seconds=1))
    if latest is None or latest <= last:
        return last
    return latest
