"""Schedule declarations and their ticks, with a fixed clock (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from jobrelay.job_engine import (
    JobContext,
    JobDefinitionError,
    Schedule,
    collect_jobs,
    job,
    schedule_of,
    scheduled_at_of,
    tick_job_id,
)
from pydantic import BaseModel, ValidationError

PARIS = ZoneInfo("Europe/Paris")


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_every_ticks_on_whole_periods_from_the_epoch_or_start() -> None:
    s = Schedule(id="e", every=timedelta(seconds=10))
    ticks = list(s.ticks(_utc(2026, 1, 1, 0, 0, 5), _utc(2026, 1, 1, 0, 0, 30)))
    assert ticks == [
        _utc(2026, 1, 1, 0, 0, 10),
        _utc(2026, 1, 1, 0, 0, 20),
        _utc(2026, 1, 1, 0, 0, 30),
    ]
    started = Schedule(
        id="s", every=10, start=_utc(2026, 1, 1, 0, 0, 3), end=_utc(2026, 1, 1, 0, 0, 23)
    )
    assert list(started.ticks(_utc(2026, 1, 1), _utc(2026, 1, 2))) == [
        _utc(2026, 1, 1, 0, 0, 3),
        _utc(2026, 1, 1, 0, 0, 13),
        _utc(2026, 1, 1, 0, 0, 23),
    ]
    assert started.last_tick(_utc(2026, 1, 1, 0, 0, 20)) == _utc(2026, 1, 1, 0, 0, 13)
    assert started.last_tick(_utc(2026, 1, 1, 0, 0, 1)) is None
    assert started.next_tick(_utc(2026, 1, 1, 0, 0, 23)) is None


def test_a_paris_cron_fires_at_the_right_instants_across_both_dst_changes() -> None:
    daily = Schedule(id="d", cron="30 2 * * *", tz="Europe/Paris")
    # 2026-03-29: clocks go from 02:00 to 03:00, so 02:30 does not exist that day;
    # it fires at 03:00 local (01:00 UTC), as cron does.
    spring = list(daily.ticks(_utc(2026, 3, 27, 12), _utc(2026, 3, 30, 12)))
    assert [t.astimezone(PARIS).isoformat() for t in spring] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]
    assert [t.isoformat() for t in spring] == [
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T01:00:00+00:00",
        "2026-03-30T00:30:00+00:00",
    ]
    # 2026-10-25: 02:00-03:00 happens twice; 02:30 fires once, the first time.
    autumn = list(daily.ticks(_utc(2026, 10, 24, 12), _utc(2026, 10, 26, 12)))
    assert [t.isoformat() for t in autumn] == [
        "2026-10-25T00:30:00+00:00",
        "2026-10-26T01:30:00+00:00",
    ]
    # An hourly cron fires at every real hour, the repeated one included.
    hourly = Schedule(id="h", cron="0 * * * *", tz="Europe/Paris")
    night = list(hourly.ticks(_utc(2026, 10, 24, 23, 30), _utc(2026, 10, 25, 2, 30)))
    assert [t.isoformat() for t in night] == [
        "2026-10-25T00:00:00+00:00",
        "2026-10-25T01:00:00+00:00",
        "2026-10-25T02:00:00+00:00",
    ]
    assert daily.last_tick(_utc(2026, 3, 29, 1, 0)) == _utc(2026, 3, 29, 1, 0)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * *"}, "cron"),
        ({"every": 1, "tz": "Mars/Olympus"}, "tz"),
        ({"every": 0}, "every"),
        ({"every": -5}, "every"),
        ({"every": 1.5}, "every"),
        ({"every": 1, "cron": "* * * * *"}, None),
        ({}, None),
        ({"every": 1, "start": datetime(2026, 1, 1)}, "start"),
        ({"every": 1, "overlap": "sometimes"}, "overlap"),
        ({"every": 1, "catchup": "most"}, "catchup"),
    ],
)
def test_bad_declarations_name_the_field(fields: dict[str, object], field: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        Schedule(id="bad", **fields)
    loc = caught.value.errors()[0]["loc"]
    assert (loc[0] if loc else None) == field


def test_a_ticks_job_id_carries_the_tick_back_to_the_job() -> None:
    tick = _utc(2026, 5, 1, 12, 0, 0)
    job_id = tick_job_id("nightly-report", tick)
    assert job_id == f"schedule:nightly-report:{int(tick.timestamp())}"
    assert scheduled_at_of(job_id) == tick
    assert schedule_of(job_id) == "nightly-report"
    assert scheduled_at_of("an-ordinary-id") is None
    assert scheduled_at_of("schedule:x:notanumber") is None


def test_jitter_delays_each_tick_the_same_way_everywhere() -> None:
    s = Schedule(id="j", every=60, jitter=timedelta(seconds=30))
    tick = _utc(2026, 1, 1, 0, 1)
    delays = {s.delay_of(tick) for _ in range(3)}
    assert len(delays) == 1 and 0 <= delays.pop() < 30
    assert s.delay_of(tick) != s.delay_of(tick + timedelta(minutes=1))
    assert Schedule(id="n", every=60).delay_of(tick) == 0


class Report(BaseModel):
    region: str


async def _report(ctx: JobContext, data: Report) -> str:
    return data.region


def test_job_declares_its_schedules_and_checks_their_payloads() -> None:
    with collect_jobs() as found:
        job(
            "sched.report",
            schedules=[Schedule(id="eu-report", cron="0 6 * * *", payload={"region": "eu"})],
        )(_report)
    (definition,) = found.values()
    assert [(s.id, s.job) for s in definition.schedules] == [("eu-report", "sched.report")]

    with pytest.raises(JobDefinitionError, match="payload the job refuses"), collect_jobs():
        job("sched.report", schedules=[Schedule(id="x", every=60, payload={"zone": 1})])(_report)
    same = Schedule(id="y", every=60, payload={"region": "eu"})
    with pytest.raises(JobDefinitionError, match="used twice"), collect_jobs():
        job("sched.report", schedules=[same, same])(_report)
    other = Schedule(id="z", every=60, job="sched.other", payload={"region": "eu"})
    with pytest.raises(JobDefinitionError, match="another job"), collect_jobs():
        job("sched.report", schedules=[other])(_report)
