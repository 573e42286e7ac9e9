"""FlowGate's scripts on a real Redis: slots and their leases, the rate limiter, pass-throughs."""

from __future__ import annotations

import time

import redis
from jobrelay.queue import (
    FlowGate,
    JobRecord,
    JobState,
    JobStore,
    LeaseKeeper,
    QueueSettings,
    Verdict,
)


def _gate(client: redis.Redis, settings: QueueSettings, lease_s: float = 30.0) -> FlowGate:
    return FlowGate(client, settings.keys, lease_s=lease_s)


def test_a_key_admits_its_limit_and_frees_a_slot_on_leave(
    redis_conn: redis.Redis, queue_settings: QueueSettings
) -> None:
    gate = _gate(redis_conn, queue_settings)
    slots = [gate.slot("sync", "cal-1", f"j{i}", "dramatiq", 2) for i in range(3)]
    assert gate.enter("sync", "j0", "dramatiq", slot=slots[0]).verdict is Verdict.ADMITTED
    assert gate.enter("sync", "j1", "dramatiq", slot=slots[1]).verdict is Verdict.ADMITTED
    refused = gate.enter("sync", "j2", "dramatiq", slot=slots[2], poll_s=0.5)
    assert refused.verdict is Verdict.WAIT and refused.waiting_for == "slot"
    assert 0 < refused.wait_s <= 0.5
    # Another key has its own slots; a holder entering again keeps its own.
    other = gate.slot("sync", "cal-2", "j3", "dramatiq", 2)
    assert gate.enter("sync", "j3", "dramatiq", slot=other).verdict is Verdict.ADMITTED
    assert gate.enter("sync", "j0", "dramatiq", slot=slots[0]).verdict is Verdict.ADMITTED
    assert gate.counts("sync", "cal-1") == (1, 0, 2)

    gate.leave(slots[0])
    assert gate.enter("sync", "j2", "dramatiq", slot=slots[2]).verdict is Verdict.ADMITTED
    assert gate.counts("sync", "cal-1") == (0, 0, 2)
    assert sorted(gate.holders("sync", "cal-1")) == ["j1|dramatiq", "j2|dramatiq"]


def test_a_lease_not_renewed_frees_its_slot_and_a_renewed_one_does_not(
    redis_conn: redis.Redis, queue_settings: QueueSettings
) -> None:
    gate = _gate(redis_conn, queue_settings, lease_s=0.3)
    kept = gate.slot("sync", "k", "kept", "temporal", 2)
    dead = gate.slot("sync", "k", "dead", "dramatiq", 2)
    keeper = LeaseKeeper(gate, interval_s=0.05)
    assert gate.enter("sync", "kept", "temporal", slot=kept).verdict is Verdict.ADMITTED
    keeper.hold(kept)
    assert gate.enter("sync", "dead", "dramatiq", slot=dead).verdict is Verdict.ADMITTED
    newcomer = gate.slot("sync", "k", "new", "dramatiq", 2)
    assert gate.enter("sync", "new", "dramatiq", slot=newcomer).verdict is Verdict.WAIT
    time.sleep(0.6)  # two leases long: only the renewed one is left
    assert gate.enter("sync", "new", "dramatiq", slot=newcomer).verdict is Verdict.ADMITTED
    assert sorted(gate.holders("sync", "k")) == ["kept|temporal", "new|dramatiq"]
    keeper.drop(kept)
    assert keeper.held() == []


def test_a_lost_lease_is_taken_back_while_there_is_room_and_reported_when_not(
    redis_conn: redis.Redis, queue_settings: QueueSettings
) -> None:
    gate = _gate(redis_conn, queue_settings, lease_s=0.2)
    mine = gate.slot("sync", "k", "mine", "dramatiq", 1)
    assert gate.enter("sync", "mine", "dramatiq", slot=mine).verdict is Verdict.ADMITTED
    time.sleep(0.3)
    assert gate.renew([mine]) == []  # ended, but nobody took it: taken back
    time.sleep(0.3)
    theirs = gate.slot("sync", "k", "theirs", "dramatiq", 1)
    assert gate.enter("sync", "theirs", "dramatiq", slot=theirs).verdict is Verdict.ADMITTED
    assert gate.renew([mine]) == [mine]


def test_the_rate_spaces_starts_and_gives_each_waiter_its_own_turn(
    redis_conn: redis.Redis, queue_settings: QueueSettings
) -> None:
    gate = _gate(redis_conn, queue_settings)
    interval = 0.2
    first = gate.enter("mail", "a", "dramatiq", rate_key="*", interval_s=interval)
    assert first.verdict is Verdict.ADMITTED
    waits = [
        gate.enter("mail", job, "dramatiq", rate_key="*", interval_s=interval)
        for job in ("b", "c", "d")
    ]
    assert [w.verdict for w in waits] == [Verdict.WAIT] * 3
    assert all(w.waiting_for == "rate" for w in waits)
    # Turns 0.2 s apart, in the order asked (each at most the interval after the last).
    turns = [w.wait_s for w in waits]
    assert turns == sorted(turns)
    assert all(0.15 <= b - a <= 0.25 for a, b in zip([0.0, *turns], turns, strict=False))
    assert gate.counts("mail").throttled == 3
    # A job that waited for its turn and comes back early waits only what is left.
    again = gate.enter("mail", "b", "dramatiq", rate_key="*", interval_s=interval, waited_turn=True)
    assert again.verdict is Verdict.WAIT and again.wait_s <= interval
    time.sleep(again.wait_s + 0.01)
    admitted = gate.enter(
        "mail", "b", "dramatiq", rate_key="*", interval_s=interval, waited_turn=True
    )
    assert admitted.verdict is Verdict.ADMITTED
    assert gate.counts("mail").throttled == 2
    # Another key of the same job name has its own pace.
    other = gate.enter("mail", "e", "dramatiq", rate_key="tenant-2", interval_s=interval)
    assert other.verdict is Verdict.ADMITTED


def test_slot_and_turn_are_taken_together_or_not_at_all(
    redis_conn: redis.Redis, queue_settings: QueueSettings
) -> None:
    gate = _gate(redis_conn, queue_settings)
    a = gate.slot("both", "k", "a", "dramatiq", 5)
    b = gate.slot("both", "k", "b", "dramatiq", 5)
    assert gate.enter("both", "a", "dramatiq", slot=a, rate_key="k", interval_s=60).verdict is (
        Verdict.ADMITTED
    )
    refused = gate.enter("both", "b", "dramatiq", slot=b, rate_key="k", interval_s=60)
    assert refused.verdict is Verdict.WAIT and refused.waiting_for == "rate"
    assert gate.holders("both", "k") == ["a|dramatiq"]  # no slot held while it waits


def test_a_job_that_will_not_run_passes_without_taking_anything(
    redis_conn: redis.Redis, queue_settings: QueueSettings, store: JobStore
) -> None:
    gate = _gate(redis_conn, queue_settings)
    for job_id in ("done", "cancel", "theirs", "waiting"):
        store.create(JobRecord(job_id=job_id, name="sync", queue="default"))
    store.finish("done", JobState.SUCCEEDED)
    store.request_cancel("cancel")
    store.claim("theirs", "temporal")
    full = gate.slot("sync", "k", "holder", "dramatiq", 1)
    assert gate.enter("sync", "holder", "dramatiq", slot=full).verdict is Verdict.ADMITTED
    for job_id in ("done", "cancel", "theirs"):
        slot = gate.slot("sync", "k", job_id, "dramatiq", 1)
        assert gate.enter("sync", job_id, "dramatiq", slot=slot).verdict is Verdict.PASS
    # A job that waits says so on its record, until it gets in.
    slot = gate.slot("sync", "k", "waiting", "dramatiq", 1)
    assert gate.enter("sync", "waiting", "dramatiq", slot=slot).verdict is Verdict.WAIT
    assert store.get("waiting").extra["waiting_for"] == "slot"  # type: ignore[union-attr]
    gate.leave(full)
    assert gate.enter("sync", "waiting", "dramatiq", slot=slot).verdict is Verdict.ADMITTED
    assert "waiting_for" not in store.get("waiting").extra  # type: ignore[union-attr]
    assert gate.holders("sync", "k") == ["waiting|dramatiq"]


def test_a_job_told_to_wait_with_claim_is_its_engines_and_out_of_pending(
    redis_conn: redis.Redis, queue_settings: QueueSettings, store: JobStore
) -> None:
    gate = _gate(redis_conn, queue_settings)
    store.create(JobRecord(job_id="w", name="sync", queue="default"), pickup_deadline=1.0)
    store.create(JobRecord(job_id="t", name="sync", queue="default"), pickup_deadline=1.0)
    full = gate.slot("sync", "k", "holder", "dramatiq", 1)
    assert gate.enter("sync", "holder", "dramatiq", slot=full).verdict is Verdict.ADMITTED
    slot = gate.slot("sync", "k", "w", "dramatiq", 1)
    assert gate.enter("sync", "w", "dramatiq", slot=slot, claim=True).verdict is Verdict.WAIT
    # Dramatiq keeps the job while it waits: no reconciler finds it overdue.
    assert store.owner("w") == "dramatiq"
    assert redis_conn.zscore(queue_settings.keys.pending, "w") is None
    record = store.get("w")
    assert record is not None and record.state is JobState.QUEUED and record.engine == "dramatiq"
    # Without claim (Temporal claims with its first step), nothing changes hands.
    other = gate.slot("sync", "k", "t", "temporal", 1)
    assert gate.enter("sync", "t", "temporal", slot=other).verdict is Verdict.WAIT
    assert store.owner("t") is None
    assert redis_conn.zscore(queue_settings.keys.pending, "t") == 1.0
