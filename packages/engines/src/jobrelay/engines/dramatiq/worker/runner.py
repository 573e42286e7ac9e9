"""What the actor does with one message: claim, run the job, record the outcome."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar, cast

from dramatiq.asyncio import get_event_loop_thread
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import q_name
from dramatiq.middleware import CurrentMessage, Interrupt
from jobrelay.job_engine import (
    InvalidPayload,
    JobCancelled,
    JobDefinition,
    PermanentError,
    RetryPolicy,
    UnknownJob,
    execute,
    get_job,
    run_failure_hook,
)
from jobrelay.queue import (
    ENGINE_DRAMATIQ,
    AttemptEntry,
    FlowGate,
    JobHistory,
    JobState,
    JobStore,
    LeaseKeeper,
    RedisUnavailable,
    Slot,
    Verdict,
    dumps,
    traceback_tail,
)
from opentelemetry.context import Context
from pydantic_core import PydanticSerializationError

from ...flow import FlowPlan, slot_poll_s
from ...tracing import TRACE_OPTION, end_span, span_context, start_job_span, use_span
from ..deadletter import dead_letter
from ..messages import attempt_of, job_of_message, parked_copy, policy_from_options
from .consumer import (
    FLOW_TURN_OPTION,
    FLOW_WAITS_OPTION,
    release_on_ack,
    requeue_on_ack,
    retry_on_ack,
    succeed_on_ack,
)
from .context import DramatiqContext, SleepParked, StepBusy
from .group_commit import BatchInterrupted, GroupCommit
from .outcomes import Outcome, settle

logger = logging.getLogger("jobrelay.dramatiq")

T = TypeVar("T")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class JobRunner:
    """Runs the messages of every jobrelay actor on one broker.

    :meth:`handle` runs on a Dramatiq worker thread and makes the record's
    Redis calls there, where the worker threads wait on Redis side by side;
    only the job body goes to the process's event loop. Made on the loop,
    every job's round trips would queue behind each other on its one thread.
    A job costs two round trips, each shared with the jobs of other threads
    that call at the same time: claim-and-start here, and succeed-and-ack in
    ``JobConsumer.ack``. A job under flow control costs two more: its slot
    and turn before the claim (:class:`FlowGate`), its slot's release after.
    """

    def __init__(
        self,
        broker: RedisBroker,
        store: JobStore,
        *,
        clock: Callable[[], float],
        sleep_threshold_s: float,
        gate: FlowGate | None = None,
    ) -> None:
        self._broker = broker
        self._store = store
        self._gate = gate or FlowGate(store.client, store.keys)
        self._keeper = LeaseKeeper(self._gate)
        # Slots and turns are taken and freed for many threads in one call, as claims are.
        self._enter_many = GroupCommit(self._gate.enter_many)
        self._leave_many = GroupCommit(self._gate.leave_many)
        self._clock = clock
        self._sleep_threshold_s = sleep_threshold_s
        self._claim_and_start = GroupCommit(partial(store.claim_and_start_many, ENGINE_DRAMATIQ))
        self._history = JobHistory.of(store)
        self._host = socket.gethostname()

    def handle(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Process the current message; its ack carries the outcome (see ``consumer``)."""
        message = cast(MessageProxy | None, CurrentMessage.get_current_message())
        if message is None:
            raise RuntimeError("no current message: the broker lacks CurrentMessage middleware")
        try:
            self._handle(message, args, kwargs)
        except RedisUnavailable as exc:
            # The attempt's bookkeeping failed, not the job: it goes back to its
            # queue once Redis answers, as the same attempt. Raising instead
            # would leave the retry to dramatiq, which cannot enqueue it now.
            logger.warning("job message %s goes back to its queue: %s", message.message_id, exc)
            settle(message, Outcome.REQUEUED)
            requeue_on_ack(message)

    def _handle(self, message: MessageProxy, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            job = job_of_message(args, kwargs, q_name(message.queue_name))
        except ValueError as exc:
            settle(message, Outcome.DEAD)
            dead_letter(self._broker, message, str(exc))
            return
        job_id = job.job_id
        try:
            definition = get_job(job.name)
            payload = definition.parse_payload(job.payload)
            plan = FlowPlan.of(definition, job.payload)
        except (UnknownJob, InvalidPayload) as exc:
            # Claimed but never started: a job that cannot run is not "running".
            record, owner = self._store.claim_record(job_id, ENGINE_DRAMATIQ)
            state = record.state if record is not None else None
            if self._ours_to_run(message, job_id, state, owner):
                settle(message, Outcome.DEAD)
                self._store.finish(job_id, JobState.DEAD, error=str(exc))
                dead_letter(self._broker, message, str(exc))
                self._log(job_id, attempt_of(message.options), time.time(), Outcome.DEAD, str(exc))
            return
        attempt = attempt_of(message.options)
        slot: Slot | None = None
        if plan is not None:
            admitted, slot = self._enter(message, plan, job_id)
            if not admitted:
                return
        try:
            state, owner, memo = self._claim_and_start((job_id, attempt))
            if not self._ours_to_run(message, job_id, state, owner):
                return
            if memo is None:
                # Ours and unfinished, yet not started: someone asked to cancel it.
                error = "cancelled before it started"
                settle(message, Outcome.CANCELLED)
                self._store.finish(job_id, JobState.CANCELLED, error=error)
                self._log(job_id, attempt, time.time(), Outcome.CANCELLED, error)
                return
            self._run(message, definition, job_id, attempt, payload, memo)
        finally:
            if slot is not None:
                self._leave(message, slot)

    def _enter(
        self, message: MessageProxy, plan: FlowPlan, job_id: str
    ) -> tuple[bool, Slot | None]:
        """Take the job's slot and turn: ``(go on, slot held)``.

        A job told to wait goes back to its queue as a delayed copy of this
        attempt (no retry spent), without holding this thread meanwhile.
        """
        options = message.options
        waits = int(options.get(FLOW_WAITS_OPTION, 0))
        request = plan.request(
            self._gate,
            job_id,
            ENGINE_DRAMATIQ,
            waited_turn=bool(options.get(FLOW_TURN_OPTION)),
            poll_s=slot_poll_s(waits),
            # Waiting, it is this worker pool's: no reconciler moves it to
            # Temporal when its pickup deadline passes while it waits.
            claim=True,
        )
        try:
            entry = self._enter_many(request)
        except BatchInterrupted as exc:
            # Another thread's time limit cut the batch: as a Redis failure, try again.
            raise RedisUnavailable(str(exc)) from exc
        if entry.verdict is Verdict.WAIT:
            again: dict[str, Any] = {FLOW_WAITS_OPTION: waits + 1}
            if entry.waiting_for == "rate" or options.get(FLOW_TURN_OPTION):
                again[FLOW_TURN_OPTION] = True
            settle(message, Outcome.WAITING)
            retry_on_ack(message, round(entry.wait_s * 1000), counts=False, options=again)
            logger.debug(
                "job %s waits %.3fs for its %s", job_id, entry.wait_s, entry.waiting_for,
                extra=_about(job_id, message),
            )  # fmt: skip
            return False, None
        if entry.verdict is Verdict.PASS:
            return True, None  # the claim settles it: nothing was taken
        slot = plan.slot(self._gate, job_id, ENGINE_DRAMATIQ)
        if slot is not None:
            self._keeper.hold(slot)
        return True, slot

    def _leave(self, message: MessageProxy, slot: Slot) -> None:
        """Free the job's slot; a slot Redis does not hear about frees when its lease ends.

        A success's ack, a moment away, frees it in its own round trip.
        """
        self._keeper.drop(slot)
        if release_on_ack(message, slot):
            return
        try:
            self._leave_many(slot)
        except (RedisUnavailable, BatchInterrupted) as exc:
            logger.warning("could not free slot %s of %s now: %s", slot.member, slot.key, exc)

    def _ours_to_run(
        self, message: MessageProxy, job_id: str, state: JobState | None, owner: str | None
    ) -> bool:
        # False once the delivery has been dead-lettered or dropped instead.
        if state is None:
            # Without a record there is nowhere to put a result, and a message
            # outliving its record's retention most likely ran long ago.
            settle(message, Outcome.DEAD)
            dead_letter(self._broker, message, f"no record for job {job_id}")
            return False
        if owner != ENGINE_DRAMATIQ:
            settle(message, Outcome.DROPPED)
            logger.info(
                "job %s is owned by %s; dropping its Dramatiq message", job_id, owner,
                extra=_about(job_id, message),
            )  # fmt: skip
            return False
        if state.finished:
            settle(message, Outcome.DROPPED)
            logger.info(
                "job %s already %s; dropping a duplicate delivery", job_id, state,
                extra=_about(job_id, message),
            )  # fmt: skip
            return False
        return True

    def _run(
        self,
        message: MessageProxy,
        definition: JobDefinition,
        job_id: str,
        attempt: int,
        payload: Any,
        memo: dict[str, str],
    ) -> None:
        # A span per attempt, in the dispatch's trace (none while tracing is off).
        carrier = message.options.get(TRACE_OPTION)
        span = start_job_span(definition.name, job_id, attempt, message.queue_name, carrier)
        try:
            # Current in this thread too: the worker's log lines carry its trace id.
            with use_span(span):
                self._attempt(
                    message, definition, job_id, attempt, payload, memo, span_context(span)
                )
        except BaseException as exc:
            end_span(span, exc)
            raise
        end_span(span)

    def _attempt(
        self,
        message: MessageProxy,
        definition: JobDefinition,
        job_id: str,
        attempt: int,
        payload: Any,
        memo: dict[str, str],
        trace_parent: Context | None,
    ) -> None:
        started = time.time()
        actor = self._broker.get_actor(message.actor_name)
        policy = policy_from_options(message.options, actor.options)
        ctx = DramatiqContext(
            job_id,
            attempt,
            store=self._store,
            memo=memo,
            clock=self._clock,
            sleep_threshold_s=self._sleep_threshold_s,
            trace_parent=trace_parent,
            history=self._history,
        )
        try:
            result = _execute(definition, ctx, payload)
        except SleepParked as parked:
            # Ends the attempt (the message is acked) without costing a retry:
            # the parked copy keeps its retry count and comes back when due.
            # State first: once the wake-up is scheduled a pump may resume the
            # job at any moment, and its "running" must not be overwritten.
            self._store.mark_sleeping(job_id, wake_at=parked.wake_at)
            member = parked_copy(message).encode().decode()
            self._store.schedule_wakeup(member, parked.wake_at)
            settle(message, Outcome.SLEEPING)
            self._log(job_id, attempt, started, Outcome.SLEEPING)
            logger.info(
                "job %s sleeps until %s", job_id, parked.wake_at, extra=_about(job_id, message)
            )
        except StepBusy as busy:
            # Another delivery (a frozen worker's, most likely) runs the hook:
            # look again later, as the same attempt, and find it done or free.
            # Not logged as an attempt: it ran nothing, and comes back every 2 s.
            logger.info(
                "job %s: %s; trying again shortly", job_id, busy, extra=_about(job_id, message)
            )
            settle(message, Outcome.REQUEUED)
            retry_on_ack(message, busy.retry_ms, counts=False)
        except JobCancelled as exc:
            settle(message, Outcome.CANCELLED)
            self._store.finish(job_id, JobState.CANCELLED, error=str(exc))
            self._log(job_id, attempt, started, Outcome.CANCELLED, str(exc))
        except PermanentError as exc:
            settle(message, Outcome.FAILED)
            self._failure_hook(definition, ctx, _describe(exc))
            self._store.finish(job_id, JobState.FAILED, error=_describe(exc))
            self._log(job_id, attempt, started, Outcome.FAILED, _describe(exc), exc)
        except Interrupt:
            # Dramatiq's time limit interrupts the worker thread (and cancels
            # the job body on the loop).
            if self._interrupted(message, job_id, attempt, policy, started):
                raise  # the last attempt: dramatiq's Retries gives up on it
        except RedisUnavailable as exc:
            # Not the job's failure (see handle): the same attempt comes back.
            self._log(job_id, attempt, started, Outcome.REQUEUED, str(exc))
            raise
        except Exception as exc:
            self._failed(message, definition, ctx, exc, policy, started)
        else:
            self._succeeded(message, job_id, attempt, started, result)

    def _succeeded(
        self, message: MessageProxy, job_id: str, attempt: int, started: float, result: Any
    ) -> None:
        try:
            result_json = dumps(result)
        except PydanticSerializationError as exc:
            # Retrying would run the whole job again and fail the same way.
            error = f"job returned a non-JSON value: {exc}"
            settle(message, Outcome.FAILED)
            self._store.finish(job_id, JobState.FAILED, error=error)
            self._log(job_id, attempt, started, Outcome.FAILED, error)
            return
        settle(message, Outcome.SUCCEEDED)
        # Logged before the ack writes the outcome: the log is written in the
        # background, and the attempt did succeed whatever the ack then finds.
        self._log(job_id, attempt, started, Outcome.SUCCEEDED)
        succeed_on_ack(message, job_id, result, result_json)

    def _log(
        self,
        job_id: str,
        attempt: int,
        started: float,
        outcome: Outcome,
        error: str | None = None,
        exc: BaseException | None = None,
    ) -> None:
        """The attempt's entry in the job's attempt log; the thread does not wait for it."""
        entry = AttemptEntry(
            attempt=attempt,
            engine=ENGINE_DRAMATIQ,
            outcome=outcome.value,
            worker=f"{self._host}:{os.getpid()}",
            started_at=started,
            ended_at=time.time(),
            error=error,
            traceback=traceback_tail(exc) if exc is not None else None,
        )
        self._history.log_attempt_soon(job_id, entry)

    def _failed(
        self,
        message: MessageProxy,
        definition: JobDefinition,
        ctx: DramatiqContext,
        exc: Exception,
        policy: RetryPolicy,
        started: float,
    ) -> None:
        error = _describe(exc)
        if ctx.attempt >= policy.max_attempts:
            reason = f"gave up after {ctx.attempt} attempts: {error}"
            logger.error("job %s: %s", ctx.job_id, reason, extra=_about(ctx.job_id, message))
            settle(message, Outcome.DEAD)
            self._failure_hook(definition, ctx, reason)
            self._store.finish(ctx.job_id, JobState.DEAD, error=reason)
            dead_letter(self._broker, message, reason)
            self._log(ctx.job_id, ctx.attempt, started, Outcome.DEAD, error, exc)
            return
        # The retry is Dramatiq's (its Retries middleware re-enqueues and counts
        # it in the message), but the delay is ours: the job's RetryPolicy, so a
        # job backs off the same on Dramatiq as on Temporal.
        delay_s = policy.backoff_s(ctx.attempt)
        settle(message, Outcome.RETRYING)
        logger.warning(
            "job %s attempt %d failed: %s", ctx.job_id, ctx.attempt, error,
            extra=_about(ctx.job_id, message),
        )  # fmt: skip
        self._store.update(
            ctx.job_id,
            state=JobState.QUEUED,
            error=error,
            message=f"attempt {ctx.attempt} failed; retrying in {delay_s:g}s",
        )
        self._log(ctx.job_id, ctx.attempt, started, Outcome.RETRYING, error, exc)
        retry_on_ack(message, round(delay_s * 1000))

    def _interrupted(
        self,
        message: MessageProxy,
        job_id: str,
        attempt: int,
        policy: RetryPolicy,
        started: float,
    ) -> bool:
        """Record a timed-out attempt; True when it was the last one."""
        error = "interrupted: time limit exceeded"
        if attempt >= policy.max_attempts:
            reason = f"gave up after {attempt} attempts: {error}"
            settle(message, Outcome.DEAD)
            self._store.finish(job_id, JobState.DEAD, error=reason)
            dead_letter(self._broker, message, reason)
            self._log(job_id, attempt, started, Outcome.DEAD, error)
            return True
        settle(message, Outcome.RETRYING)
        self._store.update(job_id, state=JobState.QUEUED, error=error)
        self._log(job_id, attempt, started, Outcome.RETRYING, error)
        retry_on_ack(message, round(policy.backoff_s(attempt) * 1000))
        return False

    def _failure_hook(self, definition: JobDefinition, ctx: DramatiqContext, error: str) -> None:
        try:
            _on_loop(run_failure_hook(definition, ctx, error))
        except Exception:
            logger.exception("on_failure hook of job %s failed", ctx.job_id)
        finally:
            ctx.wait_for_progress()


def _execute(definition: JobDefinition, ctx: DramatiqContext, payload: Any) -> Any:
    """Run the job body on the loop; its progress reports are written when this returns."""
    try:
        return _on_loop(execute(definition, ctx, payload))
    finally:
        # The outcome written next must not overtake the job's last report.
        ctx.wait_for_progress()


def _on_loop(coro: Awaitable[T]) -> T:
    """Run ``coro`` on Dramatiq's event loop thread and wait for it, interruptibly."""
    loop_thread = get_event_loop_thread()
    if loop_thread is None:
        raise RuntimeError("no event loop thread: the broker lacks AsyncIO middleware")
    return loop_thread.run_coroutine(coro)


def _about(job_id: str, message: MessageProxy) -> dict[str, str]:
    """The ``extra`` of a log line about a job: which one, where it runs."""
    return {"job_id": job_id, "queue": message.queue_name, "engine": ENGINE_DRAMATIQ}
