"""Group commit: concurrent calls share round trips and each gets its own answer."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from jobrelay.engines.dramatiq.worker.group_commit import BatchInterrupted, GroupCommit


class SlowBatches:
    """A run_batch that holds each batch until released, recording every batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.fail_with: BaseException | None = None
        self.fail_batch: dict[int, BaseException] = {}

    def __call__(self, requests: Sequence[int]) -> list[int]:
        self.batches.append(list(requests))
        self.entered.release()
        assert self.release.wait(5)
        if self.fail_with is not None:
            raise self.fail_with
        if len(self.batches) in self.fail_batch:
            raise self.fail_batch[len(self.batches)]
        return [r * 10 for r in requests]


def _wait_for_waiters(group: GroupCommit[int, int], count: int) -> None:
    for _ in range(500):
        if len(group._waiting) >= count:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} callers never queued up")


def test_an_idle_group_sends_a_lone_call_at_once() -> None:
    calls: list[list[int]] = []

    def run(requests: Sequence[int]) -> list[int]:
        calls.append(list(requests))
        return [r + 1 for r in requests]

    group = GroupCommit(run)
    assert [group(1), group(2)] == [2, 3]
    assert calls == [[1], [2]]


def test_calls_arriving_during_a_round_trip_go_together_and_get_their_own_answers() -> None:
    batches = SlowBatches()
    group = GroupCommit(batches)
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(group, 0)
        assert batches.entered.acquire(timeout=5)
        rest = {n: pool.submit(group, n) for n in range(1, 8)}
        _wait_for_waiters(group, 7)
        batches.release.set()
        assert first.result(5) == 0
        assert {n: f.result(5) for n, f in rest.items()} == {n: n * 10 for n in range(1, 8)}
    assert batches.batches[0] == [0]
    assert sorted(batches.batches[1]) == list(range(1, 8)), "waiters did not share a batch"
    assert len(batches.batches) == 2


def test_max_batch_caps_a_batch() -> None:
    batches = SlowBatches()
    group = GroupCommit(batches, max_batch=3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(group, 0)
        assert batches.entered.acquire(timeout=5)
        rest = [pool.submit(group, n) for n in range(1, 8)]
        _wait_for_waiters(group, 7)
        batches.release.set()
        assert [f.result(5) for f in [first, *rest]] == [n * 10 for n in range(8)]
    assert max(len(b) for b in batches.batches) == 3
    assert sorted(n for b in batches.batches for n in b) == list(range(8))


def test_an_error_reaches_every_caller_of_its_batch_and_the_group_goes_on() -> None:
    batches = SlowBatches()
    group = GroupCommit(batches)
    batches.fail_with = ConnectionError("redis went away")
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(group, 0)
        assert batches.entered.acquire(timeout=5)
        rest = [pool.submit(group, n) for n in range(1, 4)]
        _wait_for_waiters(group, 3)
        batches.release.set()
        for future in [first, *rest]:
            with pytest.raises(ConnectionError, match="went away"):
                future.result(5)
    batches.fail_with = None
    assert group(5) == 50, "the group stalled after a failed batch"


def test_an_interrupt_of_the_leader_stays_its_own() -> None:
    class Interrupted(BaseException):
        pass

    batches = SlowBatches()
    group = GroupCommit(batches)
    batches.fail_batch = {2: Interrupted()}
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(group, 0)
        assert batches.entered.acquire(timeout=5)
        second, third = pool.submit(group, 1), pool.submit(group, 2)
        _wait_for_waiters(group, 2)
        batches.release.set()
        assert first.result(5) == 0
        # 1 and 2 went in the second batch, led by one of them: the leader's
        # thread gets the interrupt, the other a plain error.
        errors = {type(f.exception(5)) for f in (second, third)}
    assert errors == {BatchInterrupted, Interrupted}
    assert batches.batches[1] in ([1, 2], [2, 1])
    assert group(3) == 30, "the group stalled after an interrupted batch"
