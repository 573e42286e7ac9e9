"""Flow control in Redis: concurrency slots with leases, a GCRA rate limiter, their counts.

Both engines call the same scripts, so a limit holds over every worker of
either engine (docs/architecture.md, Flow control):

- **Slots.** A job with a concurrency limit holds a lease in the sorted set
  ``flow:slots:{name}:{key}``: member ``{job_id}|{engine}``, score the
  lease's end (Redis time, ms). :data:`ENTER` drops ended leases first, so
  a worker that died frees its slot when its lease ends; a running job's
  lease is renewed (:class:`LeaseKeeper`) and removed when it ends
  (:data:`LEAVE`). The engine is part of the member: a job that both
  engines try to start before one wins its owner claim holds two slots for
  that moment, never none.
- **Rate.** ``flow:rate:{name}:{key}`` holds a GCRA's theoretical arrival
  time ``tat`` (no burst: starts at least ``interval`` apart, so never more
  than the limit in any window of its period) and ``next``, the next turn
  promised to a job told to wait. A job is admitted only when it starts (so
  the limit holds on real start times, however late a delayed job comes
  back); a refused job is told to come back at its own turn (``next``), so
  waiting jobs spread out instead of all retrying at once.
- **Counts.** ``flow:waiting:{name}`` and ``flow:throttled:{name}`` hold
  the jobs told to wait for a slot or for their turn, scored by when they
  should have tried again (plus a grace): ``/metrics`` and the queue view
  count the entries not yet past it.

One script (:data:`ENTER`) decides both: a job takes its slot and its turn
together or neither, and a job that will not run (finished, cancel asked,
owned by the other engine) passes through untouched, for the owner claim
after it to settle.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, NamedTuple

import redis

from .connection import unavailable_on_error
from .constants import Keys
from .errors import RedisUnavailable
from .records import finished_lua

logger = logging.getLogger("jobrelay.flow")

# How long past its retry time a waiting job still counts as waiting.
WAIT_GRACE_MS = 5_000

# Redis's clock in ms, so every worker and engine measures leases and turns alike.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# A set of waiters lives as long as its longest wait, no longer.
_EXPIRE_AFTER = """
local function jr_expire_after(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
"""

# KEYS: slots ('' none), waiting, rate ('' none), throttled, job record, owner,
#       pending ('' to leave the owner claim alone).
# ARGV: member, limit, lease_ms, interval_ms, hinted ('1': the job waited for its
#       turn before), engine, poll_ms (the most a slot waiter waits before it
#       looks again), job_id, grace_ms.
# Returns {1, 0, ''} admitted (slot and turn taken), {0, wait_ms, 'slot'|'rate'}
# to wait, {2, 0, ''} to pass (the job will not run: the claim settles it).
# A job told to wait is claimed for ``engine`` when KEYS[7] is given (as CLAIM
# does, its state left queued): it is that engine's from now on, and out of
# the pending set, so no reconciler moves it to the other engine while it
# waits its turn past its pickup deadline.
_ENTER_BODY = (
    """
local function jr_enter(KEYS, ARGV)
"""
    + """local function claim_waiting(st)
  if KEYS[7] ~= '' and st and redis.call('SET', KEYS[6], ARGV[6], 'NX') then
    redis.call('ZREM', KEYS[7], ARGV[8])
    redis.call('HSET', KEYS[5], 'engine', ARGV[6])
  end
end
local member, job_id = ARGV[1], ARGV[8]
local grace = tonumber(ARGV[9])
local f = redis.call('HMGET', KEYS[5], 'state', 'cancel_requested')
local st = f[1]
if st and ("""
    + finished_lua("st")
    + """ or f[2] == '1') then return {2, 0, ''} end
local owner = redis.call('GET', KEYS[6])
if owner and owner ~= ARGV[6] then return {2, 0, ''} end
if KEYS[1] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if not redis.call('ZSCORE', KEYS[1], member)
     and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    local wait = math.max(1, math.min(tonumber(first[2]) - now, tonumber(ARGV[7])))
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
    redis.call('ZADD', KEYS[2], now + wait + grace, job_id)
    jr_expire_after(KEYS[2], wait + grace)
    if st then redis.call('HSET', KEYS[5], 'waiting_for', 'slot') end
    claim_waiting(st)
    return {0, wait, 'slot'}
  end
end
if KEYS[3] ~= '' then
  local interval = tonumber(ARGV[4])
  local r = redis.call('HMGET', KEYS[3], 'tat', 'next')
  local tat, promised = tonumber(r[1]) or 0, tonumber(r[2]) or 0
  if now < tat then
    local wait = tat - now
    if ARGV[5] ~= '1' then
      -- Its own turn, after every turn promised before: waiters spread out.
      local turn = math.max(promised, tat)
      redis.call('HSET', KEYS[3], 'next', turn + interval)
      promised = turn + interval
      wait = turn - now
    end
    redis.call('PEXPIRE', KEYS[3], math.max(tat, promised) - now + 60000)
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
    redis.call('ZADD', KEYS[4], now + wait + grace, job_id)
    jr_expire_after(KEYS[4], wait + grace)
    if st then redis.call('HSET', KEYS[5], 'waiting_for', 'rate') end
    claim_waiting(st)
    return {0, wait, 'rate'}
  end
  redis.call('HSET', KEYS[3], 'tat', now + interval)
  redis.call('PEXPIRE', KEYS[3], math.max(now + interval, promised) - now + 60000)
  redis.call('ZREM', KEYS[4], job_id)
end
if KEYS[1] ~= '' then
  local lease = tonumber(ARGV[3])
  redis.call('ZADD', KEYS[1], now + lease, member)
  redis.call('PEXPIRE', KEYS[1], lease + 1000)
  redis.call('ZREM', KEYS[2], job_id)
end
if st then redis.call('HDEL', KEYS[5], 'waiting_for') end
return {1, 0, ''}
end
"""
)
ENTER = _NOW + _EXPIRE_AFTER + _ENTER_BODY + "return jr_enter(KEYS, ARGV)\n"

# ENTER for many jobs in one call (worker threads group-committed): KEYS are
# ENTER's seven per job, ARGV its nine per job. One reply per job, in order.
ENTER_MANY = (
    _NOW
    + _EXPIRE_AFTER
    + _ENTER_BODY
    + """
local out = {}
for i = 0, #KEYS / 7 - 1 do
  local keys, args = {}, {}
  for j = 1, 7 do keys[j] = KEYS[i * 7 + j] end
  for j = 1, 9 do args[j] = ARGV[i * 9 + j] end
  out[i + 1] = jr_enter(keys, args)
end
return out
"""
)

# KEYS: the slots key of each slot. ARGV: its member. Frees the slots (a no-op
# for a lease already dropped).
LEAVE = """
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[i]) end
return #KEYS
"""

# KEYS: the slots key of each lease. ARGV: lease_ms, then member and limit of each.
# Extends each lease; one that ended and was dropped is taken again while the
# key has room. Returns the 1-based indexes of the leases lost (no room).
RENEW = (
    _NOW
    + """
local lease = tonumber(ARGV[1])
local lost = {}
for i = 1, #KEYS do
  local key, member, limit = KEYS[i], ARGV[2 * i], tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZSCORE', key, member) or redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now + lease, member)
    redis.call('PEXPIRE', key, lease + 1000)
  else
    lost[#lost + 1] = i
  end
end
return lost
"""
)

# KEYS: waiting, throttled, slots ('' none). -> {waiting, throttled, running}.
_COUNTS = (
    _NOW
    + """
local out = {redis.call('ZCOUNT', KEYS[1], now, '+inf'),
             redis.call('ZCOUNT', KEYS[2], now, '+inf'), 0}
if KEYS[3] ~= '' then out[3] = redis.call('ZCOUNT', KEYS[3], now, '+inf') end
return out
"""
)


class Verdict(StrEnum):
    """What :meth:`FlowGate.enter` decided."""

    ADMITTED = "admitted"
    """The job took its slot and its turn: it may start."""
    WAIT = "wait"
    """No slot, or not its turn yet: try again after ``wait_s``."""
    PASS = "pass"
    """The job will not run (finished, cancel asked, the other engine's): nothing taken."""


class Entry(NamedTuple):
    """The answer of :meth:`FlowGate.enter`."""

    verdict: Verdict
    wait_s: float = 0.0
    waiting_for: str = ""
    """``slot`` or ``rate`` when told to wait."""


class Slot(NamedTuple):
    """One job's concurrency slot: where it is held, by whom, under which limit."""

    key: str
    member: str
    limit: int


class EnterRequest(NamedTuple):
    """The arguments of one :meth:`FlowGate.enter`, for :meth:`FlowGate.enter_many`."""

    name: str
    job_id: str
    engine: str
    slot: Slot | None = None
    rate_key: str | None = None
    interval_s: float | None = None
    waited_turn: bool = False
    poll_s: float = 1.0
    claim: bool = False
    """Claim the job for ``engine`` when it is told to wait (see ``ENTER``)."""


class FlowCounts(NamedTuple):
    """Jobs of one name (and key) at this moment."""

    waiting: int
    """Told to wait for a concurrency slot, and not yet past their retry."""
    throttled: int
    """Told to wait for their turn under the rate limit."""
    running: int
    """Slots held under the key asked about (0 without one)."""


class FlowGate:
    """The flow-control scripts over one client and prefix (blocking calls).

    Every method raises :class:`RedisUnavailable` when Redis does not answer.
    """

    def __init__(self, client: redis.Redis, keys: Keys, *, lease_s: float = 30.0) -> None:
        self.client = client
        self.keys = keys
        self.lease_s = lease_s
        self._enter = client.register_script(ENTER)
        self._enter_many = client.register_script(ENTER_MANY)
        self._leave = client.register_script(LEAVE)
        self._renew = client.register_script(RENEW)
        self._counts = client.register_script(_COUNTS)

    def slot(self, name: str, key: str, job_id: str, engine: str, limit: int) -> Slot:
        """The slot job ``job_id`` holds (or would hold) on ``engine`` under ``key``."""
        return Slot(self.keys.flow_slots(name, key), f"{job_id}|{engine}", limit)

    def enter(
        self,
        name: str,
        job_id: str,
        engine: str,
        *,
        slot: Slot | None = None,
        rate_key: str | None = None,
        interval_s: float | None = None,
        waited_turn: bool = False,
        poll_s: float = 1.0,
        claim: bool = False,
    ) -> Entry:
        """Take ``slot`` and a turn under ``rate_key`` (every ``interval_s``), or neither.

        ``waited_turn``: the job was told to wait for its turn before, so it
        is not given a new one (its turn came; it waits only what is left).
        ``poll_s`` caps how long a job without a slot waits before it looks
        again (a slot frees when a job ends, which no one announces).
        ``claim``: a job told to wait becomes ``engine``'s (its owner claim,
        out of the pending set), since that engine keeps it while it waits.
        """
        request = EnterRequest(
            name, job_id, engine, slot, rate_key, interval_s, waited_turn, poll_s, claim
        )
        keys, args = self._enter_parts(request)
        with unavailable_on_error():
            reply = self._enter(keys=keys, args=args)
        return _entry(reply)

    def enter_many(self, requests: Sequence[EnterRequest]) -> list[Entry]:
        """:meth:`enter` for each request, in one round trip; one entry each, in order."""
        keys: list[str] = []
        args: list[str | int] = []
        for request in requests:
            request_keys, request_args = self._enter_parts(request)
            keys += request_keys
            args += request_args
        with unavailable_on_error():
            replies = self._enter_many(keys=keys, args=args)
        return [_entry(reply) for reply in replies]

    def _enter_parts(self, request: EnterRequest) -> tuple[list[str], list[str | int]]:
        name, job_id, slot = request.name, request.job_id, request.slot
        rate_key = request.rate_key if request.interval_s is not None else None
        keys = [
            slot.key if slot is not None else "",
            self.keys.flow_waiting(name),
            self.keys.flow_rate(name, rate_key) if rate_key is not None else "",
            self.keys.flow_throttled(name),
            self.keys.job(job_id),
            self.keys.owner(job_id),
            self.keys.pending if request.claim else "",
        ]
        args: list[str | int] = [
            slot.member if slot is not None else "",
            slot.limit if slot is not None else 0,
            max(1, round(self.lease_s * 1000)),
            max(1, round((request.interval_s or 0.0) * 1000)),
            "1" if request.waited_turn else "",
            request.engine,
            max(1, round(request.poll_s * 1000)),
            job_id,
            WAIT_GRACE_MS,
        ]
        return keys, args

    def leave(self, slot: Slot) -> None:
        """Free ``slot``."""
        self.leave_many([slot])

    def leave_many(self, slots: Sequence[Slot]) -> list[None]:
        """Free ``slots`` in one round trip (one None each, for a group commit)."""
        with unavailable_on_error():
            self._leave(keys=[s.key for s in slots], args=[s.member for s in slots])
        return [None] * len(slots)

    def renew(self, slots: Sequence[Slot]) -> list[Slot]:
        """Extend the leases of ``slots`` by the lease time; the ones lost (no room left).

        A lease that ended (its holder silent longer than the lease) is taken
        again if its key has room: the job is still running.
        """
        if not slots:
            return []
        args: list[str | int] = [max(1, round(self.lease_s * 1000))]
        for slot in slots:
            args += [slot.member, slot.limit]
        with unavailable_on_error():
            lost = self._renew(keys=[slot.key for slot in slots], args=args)
        return [slots[int(i) - 1] for i in lost]

    def counts(self, name: str, key: str | None = None) -> FlowCounts:
        """How many jobs of ``name`` wait for a slot or a turn; slots held under ``key``."""
        keys = [
            self.keys.flow_waiting(name),
            self.keys.flow_throttled(name),
            self.keys.flow_slots(name, key) if key is not None else "",
        ]
        with unavailable_on_error():
            waiting, throttled, running = self._counts(keys=keys, args=[])
        return FlowCounts(int(waiting), int(throttled), int(running))

    def holders(self, name: str, key: str) -> list[str]:
        """The members (``job_id|engine``) holding a live slot under ``key``."""
        with unavailable_on_error():
            time_s, time_us = self.client.time()
            now_ms = int(time_s) * 1000 + int(time_us) // 1000
            raw = self.client.zrangebyscore(self.keys.flow_slots(name, key), now_ms, "+inf")
        return [m.decode() if isinstance(m, bytes) else str(m) for m in raw]


def _entry(reply: list[Any]) -> Entry:
    code, wait_ms, waiting_for = reply
    if int(code) == 1:
        return Entry(Verdict.ADMITTED)
    if int(code) == 2:
        return Entry(Verdict.PASS)
    reason = waiting_for.decode() if isinstance(waiting_for, bytes) else str(waiting_for)
    return Entry(Verdict.WAIT, int(wait_ms) / 1000, reason)


class LeaseKeeper:
    """Renews the slot leases this process holds, all in one call, every third of a lease.

    Engines :meth:`hold` a slot while its job runs here and :meth:`drop` it
    after; a process that dies stops renewing, and its slots free when their
    leases end. A lease found lost (it ended while Redis was away and its
    slot was taken) is logged: the job is running and cannot be stopped.
    """

    def __init__(self, gate: FlowGate, *, interval_s: float | None = None) -> None:
        self.gate = gate
        self.interval_s = interval_s if interval_s is not None else max(0.05, gate.lease_s / 3)
        self._held: collections.Counter[Slot] = collections.Counter()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, slot: Slot) -> None:
        """Keep renewing ``slot`` until as many :meth:`drop` calls as holds."""
        with self._lock:
            self._held[slot] += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="jobrelay-flow-leases", daemon=True
                )
                self._thread.start()

    def drop(self, slot: Slot) -> None:
        """Stop renewing ``slot`` (once every hold of it is dropped)."""
        with self._lock:
            self._held[slot] -= 1
            if self._held[slot] <= 0:
                del self._held[slot]

    def held(self) -> list[Slot]:
        """The slots being renewed now."""
        with self._lock:
            return list(self._held)

    def renew_now(self) -> list[Slot]:
        """Renew every held slot now; the ones lost. Raises :class:`RedisUnavailable`."""
        slots = self.held()
        lost = self.gate.renew(slots)
        for slot in lost:
            logger.warning(
                "the lease of %s on %s was lost: its slot was taken while it could not be renewed",
                slot.member,
                slot.key,
            )
        return lost

    def _run(self) -> None:
        while not self._wake.wait(self.interval_s):
            with contextlib.suppress(RedisUnavailable):
                # Retried at the next tick: a lease lasts three of them.
                self.renew_now()
