"""Which ticks a scheduler pass fires: catch-up policies and jitter, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobrelay.job_engine import Schedule
from jobrelay.scheduler import due_ticks, fire_at, handled_until

NOW = datetime(2026, 1, 1, 0, 1, 0, tzinfo=UTC)


def _s(**kw: object) -> Schedule:
    return Schedule(id="p", every=1, **kw)


def _seconds(ticks: list[datetime]) -> list[int]:
    return [int((t - NOW).total_seconds()) for t in ticks]


def test_ticks_seen_while_watching_fire_however_late_the_pass() -> None:
    since = NOW - timedelta(minutes=5)
    assert _seconds(due_ticks(_s(catchup="none"), NOW - timedelta(seconds=3), NOW, since)) == [
        -2,
        -1,
        0,
    ]
    assert due_ticks(_s(), NOW, NOW, since) == []


def test_after_downtime_each_catchup_policy_does_what_it_says() -> None:
    last = NOW - timedelta(seconds=30)  # the last tick handled before every scheduler stopped
    since = NOW - timedelta(seconds=1.5)  # this scheduler started 1.5 s ago
    assert _seconds(due_ticks(_s(catchup="none"), last, NOW, since)) == [-1, 0]
    assert _seconds(due_ticks(_s(catchup="latest"), last, NOW, since)) == [-2, -1, 0]
    assert _seconds(due_ticks(_s(catchup="all"), last, NOW, since)) == list(range(-29, 1))
    window = _s(catchup="all", catchup_window=timedelta(seconds=10))
    assert _seconds(due_ticks(window, last, NOW, since)) == list(range(-10, 1))


def test_a_long_downtime_walks_only_the_ticks_catchup_needs() -> None:
    last = NOW - timedelta(days=300)
    since = NOW - timedelta(seconds=0.5)
    assert _seconds(due_ticks(_s(catchup="latest"), last, NOW, since)) == [-1, 0]
    assert handled_until(_s(), last, NOW) == NOW


def test_a_tick_waits_for_its_jitter() -> None:
    jittered = Schedule(id="j", every=60, jitter=timedelta(seconds=50))
    tick = datetime(2026, 1, 1, 0, 1, 0, tzinfo=UTC)
    due = fire_at(jittered, tick)
    assert tick <= due < tick + timedelta(seconds=50)
    before = due - timedelta(microseconds=1)
    last = tick - timedelta(seconds=60)
    assert due_ticks(jittered, last, before, last) == []
    assert handled_until(jittered, last, before) == last
    assert due_ticks(jittered, last, due, last) == [tick]
    assert handled_until(jittered, last, due) == tick


def test_a_tick_whose_jitter_fell_before_the_scheduler_started_was_missed() -> None:
    tick = datetime(2026, 1, 1, 0, 1, 0, tzinfo=UTC)
    rules = {
        policy: Schedule(id="j", every=60, jitter=timedelta(seconds=50), catchup=policy)
        for policy in ("none", "latest", "all")
    }
    delay = fire_at(rules["none"], tick) - tick  # the same for every policy: id and tick
    assert delay < timedelta(seconds=49)
    # The tick fell due one second before this scheduler started watching.
    since = tick + delay + timedelta(seconds=1)
    now = since + timedelta(seconds=0.5)
    last = tick - timedelta(seconds=60)
    assert due_ticks(rules["none"], last, now, since) == []
    assert due_ticks(rules["latest"], last, now, since) == [tick]
    assert due_ticks(rules["all"], last, now, since) == [tick]


def test_of_many_ticks_whose_jitter_fell_before_the_start_each_policy_fires_its_share() -> None:
    rules = {
        policy: Schedule(
            id="many",
            every=1,
            jitter=timedelta(seconds=30),
            catchup=policy,
            catchup_window=timedelta(seconds=20),
        )
        for policy in ("none", "latest", "all")
    }
    since = NOW
    now = since + timedelta(seconds=0.5)
    last = since - timedelta(seconds=90)
    # Brute force, second by second: the ticks that fell due before this scheduler started.
    candidates = [NOW + timedelta(seconds=s) for s in range(-89, 1)]
    missed = [t for t in candidates if fire_at(rules["none"], t) <= since]
    recent = [t for t in missed if t >= now - timedelta(seconds=20)]
    assert len(recent) >= 2  # so that firing more than the latest shows
    on_time = due_ticks(rules["none"], last, now, since)
    assert all(since < fire_at(rules["none"], t) <= now for t in on_time)
    assert due_ticks(rules["latest"], last, now, since) == [missed[-1], *on_time]
    assert due_ticks(rules["all"], last, now, since) == [*recent, *on_time]
