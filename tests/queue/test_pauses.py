"""QueuePauses: pause, resume and the cached answer, on a real Redis."""

from __future__ import annotations

import pytest
from jobrelay.queue import QueuePauses, QueueSettings, UnknownQueue, redis_client


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_pause_resume_and_the_state_they_leave(queue_settings: QueueSettings) -> None:
    client = redis_client(queue_settings)
    pauses = QueuePauses(client, queue_settings.keys)
    assert not pauses.state("default").paused
    assert pauses.pause("default") is True
    assert pauses.pause("default") is False  # already paused: the first time stands
    assert pauses.is_paused("default") and await pauses.ais_paused("default")
    assert not pauses.is_paused("data_sync")
    paused = pauses.state("default")
    assert paused.paused and paused.paused_at is not None and paused.resumed_at is None
    assert pauses.resume("default") is True
    assert pauses.resume("default") is False
    resumed = pauses.state("default")
    assert not resumed.paused and resumed.resumed_at is not None
    assert not pauses.is_paused("default")


def test_another_process_sees_a_pause_once_its_cache_is_stale(
    queue_settings: QueueSettings,
) -> None:
    client = redis_client(queue_settings)
    clock = Clock()
    theirs = QueuePauses(client, queue_settings.keys, cache_s=1.0, clock=clock)
    assert not theirs.is_paused("default")  # cached: not paused
    QueuePauses(client, queue_settings.keys).pause("default")
    assert not theirs.is_paused("default")  # still within its cache
    clock.now += 1.0
    assert theirs.is_paused("default")


def test_only_declared_queues_can_be_paused(queue_settings: QueueSettings) -> None:
    pauses = QueuePauses(redis_client(queue_settings), queue_settings.keys)
    with pytest.raises(UnknownQueue):
        pauses.pause("nope")
    with pytest.raises(UnknownQueue):
        pauses.resume("nope")
