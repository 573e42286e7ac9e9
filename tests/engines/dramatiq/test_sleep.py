from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import dramatiq
import redis
from jobrelay.engines.dramatiq import DramatiqAdapter
from jobrelay.queue import JobState, JobStore
from jobrelay.queue.codec import text

HOUR = 3600.0


def test_an_hour_long_sleep_frees_the_worker_and_resumes_when_due(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
    store: JobStore,
    clock: Any,
    until: Callable[..., None],
) -> None:
    # The hour passes on the adapter's clock only: a worker that really slept
    # it would never free its one thread, and every wait below (30 s each)
    # would fail long before. How long the run takes is not the point.
    workers(adapter, ["scheduled"], threads=1)
    sleeper = submit("dtest.sleeper", {"sleep_s": HOUR})

    parked = wait_for(sleeper, JobState.SLEEPING)
    assert parked.wake_at is not None and parked.wake_at > time.time() + HOUR - 60

    # The only worker thread is free: another job runs to the end meanwhile.
    other = submit("dtest.quick")
    wait_for(other, JobState.SUCCEEDED)
    assert store.get(sleeper).state is JobState.SLEEPING  # type: ignore[union-attr]
    assert adapter.pump_wakeups() == 0  # not due yet

    clock.shift = HOUR + 1
    # "sleeping" is written a moment before the wake-up (state first, by
    # design): the wake-up may need another pass to be found.
    until(lambda: adapter.pump_wakeups() == 1, what="the wake-up")
    record = wait_for(sleeper, JobState.SUCCEEDED)

    assert counts(sleeper) == {"before": 1, "after": 1}
    assert record.attempts == 1  # a sleep is not a retry
    assert record.wake_at is None


def test_a_wakeup_before_the_due_time_parks_again(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
    until: Callable[..., None],
    clock: Any,
    store: JobStore,
    redis_conn: Any,
) -> None:
    workers(adapter, ["scheduled"], threads=1)
    job_id = submit("dtest.sleeper", {"sleep_s": HOUR})
    first = wait_for(job_id, JobState.SLEEPING)

    # Sent back early (by a pump with a clock ahead, say): the job itself sees it is not due.
    until(lambda: adapter.pump_wakeups(now=first.wake_at + 1) == 1, what="the early wake-up")

    def parked_again() -> bool:
        record = store.get(job_id)
        return (
            redis_conn.zcard(store.keys.wakeups) == 1
            and record is not None
            and record.state is JobState.SLEEPING
        )

    until(parked_again, what="parked again")
    assert store.get(job_id).wake_at == first.wake_at  # type: ignore[union-attr]
    assert counts(job_id) == {"before": 1}

    clock.shift = HOUR + 1
    assert adapter.pump_wakeups() == 1
    wait_for(job_id, JobState.SUCCEEDED)
    assert counts(job_id) == {"before": 1, "after": 1}


def test_a_short_sleep_waits_in_the_worker(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    counts: Callable[[str], dict[str, int]],
) -> None:
    workers(adapter, ["scheduled"])
    job_id = submit("dtest.sleeper", {"sleep_s": 0.2})

    record = wait_for(job_id, JobState.SUCCEEDED)
    assert counts(job_id) == {"before": 1, "after": 1}
    assert record.finished_at - record.started_at >= 0.19


def test_delayed_dispatch_short_and_long(
    testjobs: ModuleType,
    adapter: DramatiqAdapter,
    workers: Callable[..., dramatiq.Worker],
    submit: Callable[..., str],
    wait_for: Callable[..., Any],
    store: JobStore,
    clock: Any,
) -> None:
    workers(adapter, ["scheduled"])
    soon = submit("dtest.quick", delay_s=0.3)
    later = submit("dtest.quick", delay_s=2 * HOUR)

    record = wait_for(soon, JobState.SUCCEEDED)
    assert record.started_at - record.created_at >= 0.3
    assert store.get(later).state is JobState.QUEUED  # type: ignore[union-attr]
    assert adapter.pump_wakeups() == 0

    clock.shift = 2 * HOUR + 1
    assert adapter.pump_wakeups() == 1
    wait_for(later, JobState.SUCCEEDED)


def test_an_undecodable_wake_up_is_buried_with_its_reason_not_dropped(
    adapter: DramatiqAdapter, store: JobStore, redis_conn: redis.Redis
) -> None:
    store.schedule_wakeup("{not a message", time.time() - 1)
    store.schedule_wakeup("also not a message", time.time() + HOUR)  # not due: left alone

    assert adapter.pump_wakeups() == 0

    buried = {text(k): text(v) for k, v in redis_conn.hgetall(store.keys.buried_wakeups).items()}
    assert list(buried) == ["{not a message"]
    assert buried["{not a message"].startswith("undecodable: ")
    waiting = [text(m) for m in redis_conn.zrange(store.keys.wakeups, 0, -1)]
    assert waiting == ["also not a message"]
