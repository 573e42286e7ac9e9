"""A job's attempt log and step log: what a job's detail (``GET /jobs/{id}``) shows.

Two keys per job beside its record, both for people to read: the record,
the owner claim and the step memo stay what the engines act on.

- ``job:{id}:attempts``: a list of JSON :class:`AttemptEntry`, one per ended
  attempt (on Temporal also one per failed step attempt), oldest first,
  capped at :data:`ATTEMPTS_KEPT`.
- ``job:{id}:stepinfo``: step id -> JSON :class:`StepEntry` (running,
  succeeded or failed; attempts; start and end; the error).

The worker's hot path pays no round trip for them: a step's "running" mark
is made by the script that takes its lease (Dramatiq) or reads the cancel
flag (Temporal), its outcome goes in the pipeline that saves its result,
and Dramatiq's attempt entries are written by a background thread (see
:meth:`JobHistory.log_attempt_soon`). The record's FINISH script expires only
the record's own keys, so these two take the retention EXPIRE whenever an
entry with a finished outcome is written.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from enum import StrEnum
from typing import Any, NamedTuple

import redis
from pydantic import BaseModel, ValidationError

from . import _scripts, codec
from .connection import unavailable_on_error
from .constants import Keys
from .records import FINISHED_STATES, JobRecord
from .store import JobStore

logger = logging.getLogger("jobrelay.queue")

ATTEMPTS_KEPT = 100
"""Entries kept in a job's attempt log; older ones are trimmed."""
TRACEBACK_LINES = 15
"""Lines of a failure's traceback kept in its attempt entry (the last ones)."""

# TAKE_STEP (lease the step, or find its result), then, when the caller now
# holds the lease and will run the step, mark it running in the step log
# with one more attempt than the log had: one round trip, the one a step
# costs anyway. KEYS: steps, job, lease, stepinfo. ARGV: step id, holder,
# ttl_ms (TAKE_STEP's), started_at (JSON number), '1' when a cancel does not
# stop the step (a hook). Returns TAKE_STEP's reply plus the attempt (0: not marked).
TAKE_STEP_MARKED = (
    "local function take()\n"
    + _scripts.TAKE_STEP
    + """
end
local r = take()
r[4] = 0
if r[1] == 0 and (r[3] ~= '1' or ARGV[5] == '1') then
  local n = 1
  local prev = redis.call('HGET', KEYS[4], ARGV[1])
  if prev then
    local ok, info = pcall(cjson.decode, prev)
    if ok and type(info) == 'table' and tonumber(info['attempts']) then
      n = tonumber(info['attempts']) + 1
    end
  end
  redis.call('HSET', KEYS[4], ARGV[1],
    '{"state":"running","attempts":' .. n .. ',"started_at":' .. ARGV[4] .. '}')
  r[4] = n
end
return r
"""
)

# Temporal's check before a step: the cancel flag, and the step marked
# running (ARGV[2], its entry) unless a cancel stops it or it has a result.
# KEYS: steps, stepinfo, job. ARGV: step id, entry JSON. Returns the flag.
STEP_STARTED = """
local cancel = redis.call('HGET', KEYS[3], 'cancel_requested') or ''
if cancel ~= '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
return cancel
"""

# DROP_LEASE, and the step's failure in the step log unless it has a result
# after all (another delivery finished it). KEYS: lease, stepinfo, steps.
# ARGV: holder, step id, entry JSON.
FAIL_LEASED_STEP = (
    "local function drop()\n"
    + _scripts.DROP_LEASE
    + """
end
drop()
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
end
return 1
"""
)


class AttemptEntry(BaseModel):
    """One attempt of a job that ended (an entry of its attempt log)."""

    attempt: int
    engine: str
    outcome: str
    """How it ended: succeeded, failed, dead, cancelled, retrying, sleeping, requeued."""
    worker: str | None = None
    """Who ran it: ``host:pid`` on Dramatiq, the worker's identity on Temporal."""
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    traceback: str | None = None
    """The last :data:`TRACEBACK_LINES` lines of the failure's traceback."""
    step: str | None = None
    """On Temporal, the step whose activity attempt this was (None: the run's outcome)."""

    @property
    def final(self) -> bool:
        """Whether the outcome is a finished job's (the log then expires with the record)."""
        return self.outcome in FINISHED_STATES


class StepState(StrEnum):
    """Where a step is, as its step log entry says."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class StepEntry(BaseModel):
    """A step's entry in the step log: its last run's state, and how many runs it took."""

    state: StepState
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None

    @property
    def duration_ms(self) -> float | None:
        """How long its last run took; None while it runs (or when unknown)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at) * 1000, 3)


class StepStart(NamedTuple):
    """What :meth:`JobHistory.take_step` found and did."""

    stored: str | None
    """The step's stored result (JSON text) if it finished."""
    leased: bool
    """Whether the caller holds the step's lease (never when ``stored``)."""
    cancel_requested: bool
    attempt: int
    """The step's run this is, counted in its log entry; 0 when not marked running."""


class HistoryView(NamedTuple):
    """A job's record, attempt log and step log, read together (:meth:`JobHistory.read`)."""

    record: JobRecord | None
    attempts: list[AttemptEntry]
    steps: dict[str, StepEntry]
    """Step id -> its log entry."""
    results: dict[str, str]
    """Step id -> its stored result (JSON text): the step memo."""


def traceback_tail(exc: BaseException, lines: int = TRACEBACK_LINES) -> str:
    """The last ``lines`` lines of ``exc``'s formatted traceback (its message included)."""
    text = "".join(traceback.format_exception(exc)).rstrip()
    return "\n".join(text.splitlines()[-lines:])


class JobHistory:
    """Reads and writes jobs' attempt and step logs.

    Every method raises :class:`RedisUnavailable` when Redis does not answer,
    but :meth:`log_attempt_soon`, which logs and drops what it cannot write.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        retention_s: int = 7 * 24 * 3600,
        kept: int = ATTEMPTS_KEPT,
    ) -> None:
        self.client = client
        self.keys = keys
        self.retention_s = retention_s
        self.kept = kept
        self._take_step = client.register_script(TAKE_STEP_MARKED)
        self._step_started = client.register_script(STEP_STARTED)
        self._fail_leased = client.register_script(FAIL_LEASED_STEP)

    @classmethod
    def of(cls, store: JobStore) -> JobHistory:
        """The history beside ``store``'s records: same server, prefix and retention."""
        return cls(store.client, store.keys, retention_s=store.retention_s)

    # -- attempt log ----------------------------------------------------------

    def log_attempt(self, job_id: str, entry: AttemptEntry) -> None:
        """Append ``entry`` to the job's attempt log (one round trip)."""
        self.log_attempts([(job_id, entry)])

    def log_attempts(self, entries: Sequence[tuple[str, AttemptEntry]]) -> None:
        """Append each ``(job_id, entry)``, all in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for job_id, entry in entries:
            self._queue_attempt(pipe, job_id, entry)
        with unavailable_on_error():
            pipe.execute()

    def log_attempt_soon(self, job_id: str, entry: AttemptEntry) -> None:
        """Append ``entry`` from a background thread; the caller never waits.

        One thread per process writes every entry handed to it, in order,
        with what queued up meanwhile in one pipeline. An entry that Redis
        refuses is logged and dropped: the log is for people, the record
        holds the outcome.
        """
        _soon.submit(self, job_id, entry)

    @staticmethod
    def flush_soon(timeout_s: float = 5.0) -> bool:
        """Wait until the entries handed to :meth:`log_attempt_soon` so far are written."""
        return _soon.flush(timeout_s)

    def _queue_attempt(self, pipe: redis.client.Pipeline, job_id: str, entry: AttemptEntry) -> None:
        key = self.keys.attempts(job_id)
        pipe.rpush(key, entry.model_dump_json(exclude_none=True))
        pipe.ltrim(key, -self.kept, -1)
        if entry.final:
            pipe.expire(key, self.retention_s)
            pipe.expire(self.keys.step_info(job_id), self.retention_s)

    # -- step log -----------------------------------------------------------

    def take_step(
        self,
        job_id: str,
        step_id: str,
        holder: str,
        ttl_s: float,
        *,
        despite_cancel: bool = False,
    ) -> StepStart:
        """``JobStore.take_step``, marking the step running when the caller will run it.

        ``despite_cancel``: the step runs even when a cancel was asked (a hook).
        """
        keys = [
            self.keys.steps(job_id),
            self.keys.job(job_id),
            self.keys.step_lease(job_id, step_id),
            self.keys.step_info(job_id),
        ]
        args: list[str | int] = [
            step_id,
            holder,
            max(1, round(ttl_s * 1000)),
            repr(time.time()),
            "1" if despite_cancel else "0",
        ]
        with unavailable_on_error():
            status, stored, cancel, attempt = self._take_step(keys=keys, args=args)
        return StepStart(
            stored=codec.text(stored) if int(status) == 1 else None,
            leased=int(status) == 0,
            cancel_requested=codec.text(cancel) == "1",
            attempt=int(attempt),
        )

    def step_started(self, job_id: str, step_id: str, *, attempt: int) -> bool:
        """Mark ``step_id`` running as its ``attempt``-th run; returns the cancel flag.

        Nothing is marked when a cancel was asked or the step has a result.
        """
        entry = StepEntry(state=StepState.RUNNING, attempts=attempt, started_at=time.time())
        keys = [self.keys.steps(job_id), self.keys.step_info(job_id), self.keys.job(job_id)]
        with unavailable_on_error():
            cancel = self._step_started(
                keys=keys, args=[step_id, entry.model_dump_json(exclude_none=True)]
            )
        return codec.text(cancel) == "1"

    def save_step(
        self, job_id: str, step_id: str, value: Any, *, attempts: int, started_at: float
    ) -> str:
        """``JobStore.save_step`` and the step's success in its log, in one round trip."""
        encoded = codec.dumps(value)
        entry = StepEntry(
            state=StepState.SUCCEEDED,
            attempts=attempts,
            started_at=started_at,
            ended_at=time.time(),
        )
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.keys.steps(job_id), step_id, encoded)
        pipe.hset(self.keys.step_info(job_id), step_id, entry.model_dump_json(exclude_none=True))
        with unavailable_on_error():
            pipe.execute()
        return encoded

    def fail_leased_step(
        self,
        job_id: str,
        step_id: str,
        holder: str,
        *,
        attempts: int,
        started_at: float,
        error: str,
    ) -> None:
        """``JobStore.drop_step_lease`` and the step's failure in its log, in one round trip."""
        entry = _failed(attempts, started_at, error)
        keys = [
            self.keys.step_lease(job_id, step_id),
            self.keys.step_info(job_id),
            self.keys.steps(job_id),
        ]
        with unavailable_on_error():
            self._fail_leased(keys=keys, args=[holder, step_id, entry])

    def fail_step(
        self,
        job_id: str,
        step_id: str,
        *,
        attempts: int,
        started_at: float,
        error: str,
        attempt: AttemptEntry | None = None,
    ) -> None:
        """The step's failure in its log, and ``attempt`` in the attempt log: one round trip."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.keys.step_info(job_id), step_id, _failed(attempts, started_at, error))
        if attempt is not None:
            self._queue_attempt(pipe, job_id, attempt)
        with unavailable_on_error():
            pipe.execute()

    # -- reading --------------------------------------------------------------

    def read(self, job_id: str) -> HistoryView:
        """The job's record, attempt log, step log and step results, in one round trip.

        Entries that do not parse (written by another version, say) are left out.
        """
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.job(job_id))
        pipe.lrange(self.keys.attempts(job_id), 0, -1)
        pipe.hgetall(self.keys.step_info(job_id))
        pipe.hgetall(self.keys.steps(job_id))
        with unavailable_on_error():
            raw_record, raw_attempts, raw_steps, raw_results = pipe.execute()
        record = (
            JobRecord.from_hash({codec.text(k): codec.text(v) for k, v in raw_record.items()})
            if raw_record
            else None
        )
        attempts: list[AttemptEntry] = []
        for raw in raw_attempts:
            try:
                attempts.append(AttemptEntry.model_validate_json(raw))
            except ValidationError:
                continue
        steps: dict[str, StepEntry] = {}
        for step_id, raw in raw_steps.items():
            try:
                steps[codec.text(step_id)] = StepEntry.model_validate_json(raw)
            except ValidationError:
                continue
        results = {codec.text(k): codec.text(v) for k, v in raw_results.items()}
        return HistoryView(record, attempts, steps, results)


def _failed(attempts: int, started_at: float, error: str) -> str:
    entry = StepEntry(
        state=StepState.FAILED,
        attempts=attempts,
        started_at=started_at,
        ended_at=time.time(),
        error=error,
    )
    return entry.model_dump_json(exclude_none=True)


class _SoonWriter:
    """The background thread of :meth:`JobHistory.log_attempt_soon`, one per process.

    An executor of one thread, so the entries still queued at interpreter
    exit are written then (concurrent.futures joins its threads); made again
    in a forked child, whose copy of the parent's thread does not run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._executor: ThreadPoolExecutor | None = None
        self._items: deque[tuple[JobHistory, str, AttemptEntry]] = deque()

    def submit(self, history: JobHistory, job_id: str, entry: AttemptEntry) -> None:
        executor = self._current()
        self._items.append((history, job_id, entry))
        executor.submit(self._drain)

    def flush(self, timeout_s: float) -> bool:
        # The one thread runs in order: once this no-op ran, so did every drain before it.
        done: Future[None] = self._current().submit(lambda: None)
        return bool(wait_futures([done], timeout=timeout_s).done)

    def _current(self) -> ThreadPoolExecutor:
        pid = os.getpid()
        with self._lock:
            if self._executor is None or self._pid != pid:
                self._pid = pid
                self._items = deque()  # the parent's: the parent writes them
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="jobrelay-history"
                )
            return self._executor

    def _drain(self) -> None:
        batch: dict[int, tuple[JobHistory, list[tuple[str, AttemptEntry]]]] = {}
        while True:
            try:
                history, job_id, entry = self._items.popleft()
            except IndexError:
                break
            batch.setdefault(id(history), (history, []))[1].append((job_id, entry))
        for history, entries in batch.values():
            try:
                history.log_attempts(entries)
            except Exception as exc:
                logger.warning("could not write %d attempt log entries: %s", len(entries), exc)


_soon = _SoonWriter()
