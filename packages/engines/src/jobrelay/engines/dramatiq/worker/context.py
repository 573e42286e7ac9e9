"""The job context on Dramatiq: steps memoised in the job's step hash, sleeps that park."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import datetime
from typing import Any, NamedTuple

from jobrelay.job_engine import (
    FAILURE_HOOK_STEP,
    SUCCESS_HOOK_STEP,
    BaseJobContext,
    JobCancelled,
    PermanentError,
    step_ref,
    step_result_type,
)
from jobrelay.queue import ENGINE_DRAMATIQ, JobHistory, JobStore, RedisUnavailable, loads
from opentelemetry.context import Context
from pydantic_core import PydanticSerializationError
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from ...tracing import end_span, start_step_span

logger = logging.getLogger("jobrelay.dramatiq")

# How long a finished step's result waits for Redis before the attempt gives
# up (and the step, its side effect done, runs again on the next delivery):
# long enough to outlast a Redis restart on its AOF.
_SAVE_PATIENCE_S = 60.0
_SAVE_RETRY: dict[str, Any] = {
    "retry": retry_if_exception_type(RedisUnavailable),
    "wait": wait_exponential(multiplier=0.1, max=2.0),
    "stop": stop_after_delay(_SAVE_PATIENCE_S),
    "reraise": True,
}

# Hooks run once the outcome is decided; a late cancel must not skip them.
_HOOK_STEPS = frozenset({SUCCESS_HOOK_STEP, FAILURE_HOOK_STEP})

# A step is leased to one delivery while it runs. A worker frozen past its
# broker heartbeat (a stopped process, a long GC pause) has its message
# handed to another worker; without the lease the two could run the same
# step (a hook included) side by side, the frozen one resuming after it had
# looked for the step's result. A delivery that finds the lease taken comes
# back later; a worker killed mid-step frees it by expiry. Not renewed: a
# step running longer than this can be taken over by a redelivery.
STEP_LEASE_S = 30.0

# The step leases this process holds, so a worker that hands its running jobs
# back on a forced stop can free them: the next delivery need not wait them out.
_held: dict[tuple[int, str, str], tuple[JobStore, str]] = {}
_held_lock = threading.Lock()

# One thread writes every progress report of the process, in the order given:
# a job's reports never overtake each other, and the job never waits for them.
_progress_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobrelay-progress")
# Progress is informative: past this, an outcome does not wait for its reports.
_PROGRESS_WAIT_S = 5.0


def release_held_leases() -> int:
    """Free every step lease this process holds (best effort); how many were freed.

    For a worker that stops with jobs still running and hands them back.
    """
    with _held_lock:
        held = list(_held.items())
        _held.clear()
    freed = 0
    for (_, job_id, step_id), (store, holder) in held:
        with contextlib.suppress(RedisUnavailable):
            store.drop_step_lease(job_id, step_id, holder)
            freed += 1
    return freed


_BUSY_RETRY_MS = 2_000


class SleepParked(BaseException):
    """Raised through the job body when a long sleep ends the attempt.

    A BaseException so that a job's ``except Exception`` cannot swallow it.
    """

    def __init__(self, step_id: str, wake_at: float) -> None:
        super().__init__(f"sleep {step_id!r} parked until {wake_at}")
        self.step_id = step_id
        self.wake_at = wake_at


class StepBusy(BaseException):
    """Raised through the job body when another delivery holds a step's lease.

    A BaseException so that a job's ``except Exception`` cannot swallow it.
    """

    def __init__(self, step_id: str, retry_ms: int) -> None:
        super().__init__(f"step {step_id!r} is leased to another delivery")
        self.step_id = step_id
        self.retry_ms = retry_ms


class _StepRun(NamedTuple):
    """One run of a step by this delivery, as the step log counts it."""

    step_id: str
    attempt: int
    started_at: float


class DramatiqContext(BaseJobContext):
    """One attempt of a job on a Dramatiq worker.

    The step memo is read once when the attempt starts; each finished step
    is written to it before its result is returned, so a retry or a
    redelivery never runs a finished step again. A sync step's result is
    written in the step's own thread as it returns.

    Every async job of a worker process runs on Dramatiq's one event loop,
    so no Redis call is made on it: each goes to a thread (``to_thread``),
    and a slow or absent Redis delays only the job that waits for it.
    Progress reports go to one writer thread, in order, without waiting.
    """

    def __init__(
        self,
        job_id: str,
        attempt: int,
        *,
        store: JobStore,
        memo: dict[str, str],
        clock: Callable[[], float],
        sleep_threshold_s: float,
        trace_parent: Context | None = None,
        history: JobHistory | None = None,
    ) -> None:
        super().__init__(job_id, attempt, ENGINE_DRAMATIQ)
        # The attempt's span: each step run is a child of it (None: tracing off).
        self._trace_parent = trace_parent
        self._delivery = uuid.uuid4().hex
        self._store = store
        # The step log (running, succeeded, failed) rides on the round trips
        # that take a step's lease and save its result.
        self._history = history or JobHistory.of(store)
        self._memo = memo
        self._clock = clock
        self._sleep_threshold_s = sleep_threshold_s
        self._cancel_seen = False
        self._progress_sent: Future[None] | None = None

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was asked for, as of the last step or sleep (as on Temporal)."""
        return self._cancel_seen

    def progress(self, percent: int, message: str = "") -> None:
        self._progress_sent = _progress_writer.submit(self._write_progress, percent, message)

    def wait_for_progress(self, timeout_s: float = _PROGRESS_WAIT_S) -> None:
        """Block until this attempt's progress reports are written (or ``timeout_s`` passed).

        Called from a worker thread, never the loop, before the outcome is
        written: the outcome must not overtake the job's last report.
        """
        sent = self._progress_sent
        if sent is not None:
            # Waits without raising: a report's failure is logged by the
            # writer and must not take the place of the job's outcome.
            wait_futures([sent], timeout=timeout_s)

    def _write_progress(self, percent: int, message: str) -> None:
        try:
            self._store.set_progress(self.job_id, percent, message)
        except RedisUnavailable:
            # Progress is informative: losing one report must not fail the job.
            # A Redis that stays down fails the next step's memo write instead.
            logger.warning("could not record progress of job %s", self.job_id)
        except Exception:
            logger.exception("could not record progress of job %s", self.job_id)

    async def _run_step(self, step_id: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        step_ref(fn)  # the same module-level rule as on Temporal, so a job runs on both
        result_type = step_result_type(fn)
        stored = self._memo.get(step_id)
        if stored is not None:
            return loads(stored, result_type)
        # Another delivery of this job (a frozen worker's message handed to a
        # live one) may have finished the step, or be running it, since this
        # attempt read the memo: look again and take the step's lease, in the
        # round trip the cancel check costs anyway (which also marks the step
        # running in the step log when this delivery runs it).
        take = await asyncio.to_thread(
            self._history.take_step,
            self.job_id,
            step_id,
            self._delivery,
            STEP_LEASE_S,
            despite_cancel=step_id in _HOOK_STEPS,
        )
        self._cancel_seen = self._cancel_seen or take.cancel_requested
        if take.stored is not None:
            self._memo[step_id] = take.stored
            return loads(take.stored, result_type)
        if take.cancel_requested and step_id not in _HOOK_STEPS:
            if take.leased:
                await self._drop_lease(step_id)
            raise JobCancelled(f"job {self.job_id} cancelled before {step_id!r}")
        if not take.leased:
            raise StepBusy(step_id, _BUSY_RETRY_MS)
        lease = (id(self), self.job_id, step_id)
        with _held_lock:
            _held[lease] = (self._store, self._delivery)
        span = start_step_span(step_id, self.job_id, self._trace_parent)
        run = _StepRun(step_id, take.attempt, time.time())
        try:
            stored = await self._call(run, fn, args)
        except BaseException as exc:
            end_span(span, exc)
            await self._step_failed(run, exc)  # and its lease dropped: a retry may run it at once
            raise
        finally:
            with _held_lock:
                _held.pop(lease, None)
        end_span(span)
        self._memo[step_id] = stored
        # Decode what was stored so a first run returns exactly what a replay would.
        return loads(stored, result_type)

    async def _call(self, run: _StepRun, fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
        """Run a step and save its result; the stored text."""
        try:
            if inspect.iscoroutinefunction(fn):
                stored = await self._save_finished(run, await fn(*args))
            else:
                # The result is written in the step's own thread as soon as it
                # returns: the window in which a dying worker loses it, and
                # the step runs again, is one round trip.
                done, saved = await asyncio.to_thread(self._call_and_save, run, fn, args)
                stored = saved if saved is not None else await self._save_finished(run, await done)
        except PydanticSerializationError as exc:
            # Retrying would repeat the step's side effect and fail the same way.
            raise PermanentError(f"step {run.step_id!r} returned a non-JSON value: {exc}") from exc
        return stored

    async def _step_failed(self, run: _StepRun, exc: BaseException) -> None:
        """Drop the step's lease and note its failure in the step log (best effort)."""
        error = f"{type(exc).__name__}: {exc}" if isinstance(exc, Exception) else "interrupted"
        with contextlib.suppress(RedisUnavailable):  # the lease expires on its own
            await asyncio.to_thread(
                self._history.fail_leased_step,
                self.job_id,
                run.step_id,
                self._delivery,
                attempts=run.attempt,
                started_at=run.started_at,
                error=error,
            )

    async def _drop_lease(self, step_id: str) -> None:
        with contextlib.suppress(RedisUnavailable):  # it expires on its own
            await asyncio.to_thread(
                self._store.drop_step_lease, self.job_id, step_id, self._delivery
            )

    def _call_and_save(
        self, run: _StepRun, fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> tuple[Any, str | None]:
        """Run a sync step and save its result, in a worker thread.

        A sync function that returns an awaitable gets it back unsaved.
        """
        result = fn(*args)
        if inspect.isawaitable(result):
            return result, None
        for attempt in Retrying(**_SAVE_RETRY):
            with attempt:
                return None, self._save(run, result)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _save_finished(self, run: _StepRun, result: Any) -> str:
        async for attempt in AsyncRetrying(**_SAVE_RETRY):
            with attempt:
                return await asyncio.to_thread(self._save, run, result)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _save(self, run: _StepRun, result: Any) -> str:
        """The step's result in the memo and its success in the step log: one round trip."""
        return self._history.save_step(
            self.job_id, run.step_id, result, attempts=run.attempt, started_at=run.started_at
        )

    async def _sleep(self, step_id: str, seconds: float | None, until: datetime | None) -> None:
        await self._check_cancel(step_id)
        stored = self._memo.get(step_id)
        if stored is None:
            wake_at = until.timestamp() if until is not None else self._clock() + (seconds or 0.0)
            self._memo[step_id] = await asyncio.to_thread(
                self._store.save_step, self.job_id, step_id, wake_at
            )
        else:
            wake_at = float(loads(stored))
        remaining = wake_at - self._clock()
        if remaining <= 0:
            return
        if remaining < self._sleep_threshold_s:
            await asyncio.sleep(remaining)
            return
        raise SleepParked(step_id, wake_at)

    async def _check_cancel(self, step_id: str) -> None:
        if await asyncio.to_thread(self._store.cancel_requested, self.job_id):
            self._cancel_seen = True
            raise JobCancelled(f"job {self.job_id} cancelled before {step_id!r}")
