"""The job index: every job's id in sorted sets by queue and state, and by name, newest first.

Each script that creates a record or changes its state also calls
:data:`INDEX_LUA`'s ``jr_index`` in the same atomic call, so the index is
never behind the records, on either engine: a job that reached Temporal while
Redis was down enters it when its record is backfilled. A new job costs three
``ZADD`` and a counter; a state change a ``ZREM`` and a ``ZADD`` (O(log n)).
A query reads one set, or merges a few (a state over the queues, a queue
over the states), from a cursor, and the records of the page: never the
keyspace.

Scores are the jobs' ``created_at``. Sets are bounded by the retention
period: the first job of a queue to finish in a minute trims the sets it is
in of entries created longer ago than that. A record that expired before
its entry was trimmed is skipped (and its entry dropped) when a query meets it.
"""

from __future__ import annotations

import base64
import binascii
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import redis

from . import codec
from .connection import unavailable_on_error
from .constants import Keys
from .errors import InvalidCursor
from .queues import QUEUES
from .records import JobRecord, JobState, finished_lua

# The Lua every state-changing script starts with.
#
# ``jr_index_new(idx, job_id, score, queue, name, state, reason)`` indexes a new
# record from the fields the caller has (nothing is read), and counts its
# dispatch reason in its minute, for the share of fallbacks. ``idx`` is
# ``Keys.index``.
#
# ``jr_index_move`` and ``jr_index_finished`` are its two halves, for the hot
# scripts (a worker's claim and success) that read the job's fields anyway.
#
# ``jr_index(idx, job, job_id, old, retention)`` indexes the job whose hash is
# ``job`` as it is now: ``old`` is its state before the call (false for a new
# record), ``retention`` the retention in seconds when the call may have
# finished the job (else false). A job that just finished counts its outcome
# and its minute's throughput; the first of its queue to finish in a minute
# also trims the sets it is in.
#
# ``jr_unindex(idx, job, job_id, uncount)`` drops a job whose record is being
# deleted; with ``uncount`` the job never was (a dispatch no engine took) and
# its reason is taken back off its minute's count too.
INDEX_LUA = (
    """
local function jr_index_new(idx, job_id, score, queue, name, state, reason)
  redis.call('ZADD', idx, score, job_id)
  redis.call('ZADD', idx .. ':qs:' .. queue .. ':' .. state, score, job_id)
  redis.call('ZADD', idx .. ':name:' .. name, score, job_id)
  local k = idx .. ':reasons:' .. math.floor(score / 60)
  if redis.call('HINCRBY', k, reason, 1) == 1 then redis.call('EXPIRE', k, 7200) end
end

-- A state change whose caller has read the job's created_at and queue.
local function jr_index_move(idx, job_id, score, queue, old, new)
  if old == new then return end
  redis.call('ZREM', idx .. ':qs:' .. queue .. ':' .. old, job_id)
  redis.call('ZADD', idx .. ':qs:' .. queue .. ':' .. new, score, job_id)
end

-- A job of ``queue`` (job name ``name``, run by ``engine``) just finished as ``st``.
local function jr_index_finished(idx, queue, name, engine, st, retention)
  local now = tonumber(redis.call('TIME')[1])
  redis.call('HINCRBY', idx .. ':outcomes', queue .. '|' .. engine .. '|' .. st, 1)
  local k = idx .. ':done:' .. queue .. ':' .. math.floor(now / 60)
  if redis.call('INCR', k) == 1 then
    redis.call('EXPIRE', k, 7200)
    local cutoff = '(' .. (now - tonumber(retention))
    redis.call('ZREMRANGEBYSCORE', idx, '-inf', cutoff)
    redis.call('ZREMRANGEBYSCORE', idx .. ':qs:' .. queue .. ':' .. st, '-inf', cutoff)
    redis.call('ZREMRANGEBYSCORE', idx .. ':name:' .. name, '-inf', cutoff)
  end
end

local function jr_index(idx, job, job_id, old, retention)
  local f = redis.call('HMGET', job, 'created_at', 'queue', 'name', 'state', 'engine', 'reason')
  local st = f[4]
  if not st then return end
  local score, queue, name = tonumber(f[1]) or 0, f[2] or '', f[3] or ''
  if not old then
    jr_index_new(idx, job_id, score, queue, name, st, f[6] or '')
    return
  end
  if old == st then return end
  jr_index_move(idx, job_id, score, queue, old, st)
  if retention and """
    + finished_lua("st")
    + """ then
    jr_index_finished(idx, queue, name, f[5] or '', st, retention)
  end
end

local function jr_unindex(idx, job, job_id, uncount)
  local f = redis.call('HMGET', job, 'queue', 'name', 'state', 'created_at', 'reason')
  local queue, name, st = f[1] or '', f[2] or '', f[3] or ''
  if uncount and f[4] then
    local k = idx .. ':reasons:' .. math.floor(tonumber(f[4]) / 60)
    if redis.call('HINCRBY', k, f[5] or '', -1) <= 0 then redis.call('HDEL', k, f[5] or '') end
  end
  redis.call('ZREM', idx, job_id)
  redis.call('ZREM', idx .. ':qs:' .. queue .. ':' .. st, job_id)
  redis.call('ZREM', idx .. ':name:' .. name, job_id)
end
"""
)


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs a list holds; every field set must match. Times are epoch seconds."""

    state: JobState | None = None
    queue: str | None = None
    name: str | None = None
    engine: str | None = None
    since: float | None = None
    """Created at or after."""
    until: float | None = None
    """Created at or before."""

    def admits(self, state: str, queue: str, name: str, engine: str | None) -> bool:
        """Whether a job with these fields is listed (the times are the index's scores)."""
        return (
            (self.state is None or state == self.state.value)
            and (self.queue is None or queue == self.queue)
            and (self.name is None or name == self.name)
            and (self.engine is None or engine == self.engine)
        )


class JobPage(NamedTuple):
    """One page of a job list, newest first, and the cursor of the next (None at the end)."""

    records: list[JobRecord]
    next_cursor: str | None


class _Position(NamedTuple):
    score: float
    job_id: str


# The fields a filter is checked against: read for every entry a query passes,
# while whole records are read only for the page.
_HEAD = ("state", "queue", "name", "engine")


class _Scan:
    cut = False
    """Whether the walk stopped at ``max_scan`` with entries left."""


class JobIndex:
    """Reads the job index: pages of jobs by filter, counts by state, recent throughput.

    Blocking (redis-py); call it from a thread on an event loop. Every method
    raises :class:`RedisUnavailable` when Redis does not answer.
    """

    def __init__(self, client: redis.Redis, keys: Keys, *, batch: int = 200, max_scan: int = 2000):
        self.client = client
        self.keys = keys
        self.batch = batch
        self.max_scan = max_scan
        """A filtered page reads at most this many entries; a sparse match then
        answers a short page and a cursor to go on from (never an endless scan)."""

    def page(self, where: JobFilter, *, limit: int = 50, cursor: str | None = None) -> JobPage:
        """The jobs matching ``where``, newest first, ``limit`` at most, after ``cursor``."""
        after = _decode(cursor) if cursor else None
        bases = self._base_sets(where)
        found: list[_Position] = []
        last: _Position | None = None
        scan = _Scan()
        next_cursor: str | None = None
        for position, head in self._walk(bases, where, after, scan):
            last = position
            if head is None or not where.admits(*head):
                continue
            if len(found) == limit:
                # One more match exists: the page is full and a next one has something.
                next_cursor = _encode(found[-1])
                break
            found.append(position)
        else:
            if last is not None and scan.cut:
                next_cursor = _encode(last)
        records = self._records([p.job_id for p in found])
        # A record that expired since its head was read is left out.
        return JobPage([r for r in records if r is not None], next_cursor)

    def count_by_state(self, queue: str | None = None) -> dict[str, int]:
        """How many indexed jobs are in each state, of one queue or of all."""
        queues = list(QUEUES) if queue is None else [queue]
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=False)
            for state in JobState:
                for name in queues:
                    pipe.zcard(self.keys.index_queue_state(name, state))
            counts = iter(pipe.execute())
        return {state.value: sum(int(next(counts)) for _ in queues) for state in JobState}

    def oldest_created(self, queue: str, state: JobState) -> float | None:
        """When the oldest job of ``queue`` now in ``state`` was created; None if there is none."""
        with unavailable_on_error():
            first = self.client.zrange(
                self.keys.index_queue_state(queue, state), 0, 0, withscores=True
            )
        return float(first[0][1]) if first else None

    def finished_per_minute(self, queue: str, now_minute: int, minutes: int = 60) -> list[int]:
        """Jobs of ``queue`` finished in each of the last ``minutes`` minutes, oldest first.

        The last entry is the current, unfinished minute.
        """
        keys = [self.keys.finished_in_minute(queue, m) for m in _minutes(now_minute, minutes)]
        with unavailable_on_error():
            values = self.client.mget(keys)
        return [int(v) if v is not None else 0 for v in values]

    def dispatch_reasons(self, now_minute: int, minutes: int = 60) -> dict[str, int]:
        """Jobs recorded over the last ``minutes`` minutes by the reason of their engine."""
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=False)
            for minute in _minutes(now_minute, minutes):
                pipe.hgetall(self.keys.reasons_in_minute(minute))
            per_minute = pipe.execute()
        totals: dict[str, int] = {}
        for counts in per_minute:
            for reason, n in counts.items():
                key = codec.text(reason) or "unknown"
                totals[key] = totals.get(key, 0) + int(n)
        return totals

    def outcomes(self) -> dict[tuple[str, str, str], int]:
        """Jobs ever finished, by ``(queue, engine, state)``."""
        with unavailable_on_error():
            raw = self.client.hgetall(self.keys.outcomes)
        out: dict[tuple[str, str, str], int] = {}
        for field, n in raw.items():
            parts = codec.text(field).split("|")
            if len(parts) == 3:
                out[(parts[0], parts[1], parts[2])] = int(n)
        return out

    # -- reading a set ---------------------------------------------------------

    def _base_sets(self, where: JobFilter) -> list[str]:
        """The sets that together hold every job the filter can match, fewest entries first.

        A state and a queue have a set of their own; a state alone is that
        state's set of each queue, a queue alone its sets of each state; a
        name has its own set, taken when it is the smaller.
        """
        if where.state is not None and where.queue is not None:
            return [self.keys.index_queue_state(where.queue, where.state)]
        groups: list[list[str]] = []
        if where.state is not None:
            groups.append([self.keys.index_queue_state(q, where.state) for q in QUEUES])
        if where.queue is not None:
            groups.append([self.keys.index_queue_state(where.queue, s) for s in JobState])
        if where.name is not None:
            groups.append([self.keys.index_name(where.name)])
        if not groups:
            return [self.keys.index]
        if len(groups) == 1:
            return groups[0]
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=False)
            for group in groups:
                for key in group:
                    pipe.zcard(key)
            sizes = iter(pipe.execute())
        totals = [sum(int(next(sizes)) for _ in group) for group in groups]
        return min(zip(totals, range(len(groups)), groups, strict=True))[2]

    def _walk(
        self, keys: list[str], where: JobFilter, after: _Position | None, scan: _Scan
    ) -> Iterator[tuple[_Position, tuple[str, str, str, str | None] | None]]:
        """Entries of ``keys`` merged newest first from ``after`` within the filter's times,
        with each record's state, queue, name and engine.

        A record that no longer exists comes as None, and its entry is dropped.
        Stops after :attr:`max_scan` entries, noting it in ``scan``.
        """
        top: float | str = "+inf" if where.until is None else where.until
        if after is not None:
            top = after.score if where.until is None else min(after.score, where.until)
        bottom: float | str = "-inf" if where.since is None else where.since
        # Each set is newest first (score, then id, both descending): so is the merge.
        merged = heapq.merge(
            *(self._entries(key, top, bottom) for key in keys),
            key=lambda p: (p.score, p.job_id),
            reverse=True,
        )
        scanned = 0
        while True:
            chunk = [p for _, p in zip(range(self.batch), merged, strict=False)]
            if not chunk:
                return
            scanned += len(chunk)
            if after is not None:
                # Ties on the score sort by id, descending: skip up to the cursor's.
                chunk = [p for p in chunk if p.score < after.score or p.job_id < after.job_id]
            heads = self._heads([p.job_id for p in chunk])
            stale = [p.job_id for p, head in zip(chunk, heads, strict=True) if head is None]
            if stale:
                self._drop(stale, keys)
            yield from zip(chunk, heads, strict=True)
            if scanned >= self.max_scan:
                scan.cut = True
                return

    def _entries(self, key: str, top: float | str, bottom: float | str) -> Iterator[_Position]:
        """One set's entries from ``top`` down to ``bottom``, newest first, a batch at a time."""
        offset = 0
        while True:
            with unavailable_on_error():
                entries: list[tuple[bytes, float]] = self.client.zrevrangebyscore(  # type: ignore[assignment]
                    key, top, bottom, start=offset, num=self.batch, withscores=True
                )
            yield from (_Position(float(s), codec.text(m)) for m, s in entries)
            if len(entries) < self.batch:
                return
            offset += len(entries)

    def _heads(self, job_ids: list[str]) -> list[tuple[str, str, str, str | None] | None]:
        if not job_ids:
            return []
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=False)
            for job_id in job_ids:
                pipe.hmget(self.keys.job(job_id), _HEAD)
            replies: list[list[Any]] = pipe.execute()
        return [
            None
            if state is None
            else (
                codec.text(state),
                codec.text(queue or b""),
                codec.text(name or b""),
                codec.text(engine) if engine else None,
            )
            for state, queue, name, engine in replies
        ]

    def _records(self, job_ids: list[str]) -> list[JobRecord | None]:
        if not job_ids:
            return []
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=False)
            for job_id in job_ids:
                pipe.hgetall(self.keys.job(job_id))
            raws: list[dict[Any, Any]] = pipe.execute()
        return [
            JobRecord.from_hash({codec.text(k): codec.text(v) for k, v in raw.items()})
            if raw
            else None
            for raw in raws
        ]

    def _drop(self, job_ids: list[str], keys: list[str]) -> None:
        # Expired records: their queue and name are gone with them, so the sets
        # this query read and the set of every job are cleaned here; the rest
        # are trimmed by age as jobs finish.
        with unavailable_on_error():
            pipe = self.client.pipeline(transaction=False)
            for key in {self.keys.index, *keys}:
                pipe.zrem(key, *job_ids)
            pipe.execute()


def _minutes(now_minute: int, minutes: int) -> range:
    return range(now_minute - minutes + 1, now_minute + 1)


def _encode(position: _Position) -> str:
    raw = f"{position.score!r}|{position.job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> _Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, job_id = raw.split("|", 1)
        return _Position(float(score), job_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor(cursor) from exc
