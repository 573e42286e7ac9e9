"""What the actor does with one message: claim, run the job, record the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from dramatiq import Retry
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
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
from jobrelay.queue import ENGINE_DRAMATIQ, JobState, JobStore

from .context import DramatiqContext, SleepParked
from .deadletter import dead_letter
from .messages import JobMessage, attempt_of, parked_copy, policy_from_options

logger = logging.getLogger("jobrelay.dramatiq")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class JobRunner:
    """Runs the messages of every jobrelay actor on one broker."""

    def __init__(
        self,
        broker: RedisBroker,
        store: JobStore,
        *,
        clock: Callable[[], float],
        sleep_threshold_s: float,
    ) -> None:
        self._broker = broker
        self._store = store
        self._clock = clock
        self._sleep_threshold_s = sleep_threshold_s

    async def handle(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Process the current message; raising ``Retry`` asks for another attempt."""
        message = cast(MessageProxy | None, CurrentMessage.get_current_message())
        if message is None:
            raise RuntimeError("no current message: the broker lacks CurrentMessage middleware")
        try:
            envelope = JobMessage.from_args(args, kwargs)
        except ValueError as exc:
            dead_letter(self._broker, message, str(exc))
            return
        job_id = envelope.job_id
        # Read and claim in one round trip: the event loop runs every job's Redis calls.
        record, owner = self._store.claim_record(job_id, ENGINE_DRAMATIQ)
        if record is None:
            # Without a record there is nowhere to put a result, and a message
            # outliving its record's retention most likely ran long ago.
            dead_letter(self._broker, message, f"no record for job {job_id}")
            return
        if owner != ENGINE_DRAMATIQ:
            logger.info("job %s is owned by %s; dropping its Dramatiq message", job_id, owner)
            return
        if record.state.finished:
            logger.info("job %s already %s; dropping a duplicate delivery", job_id, record.state)
            return
        try:
            definition = get_job(envelope.name)
            payload = definition.parse_payload(envelope.payload)
        except (UnknownJob, InvalidPayload) as exc:
            self._store.finish(job_id, JobState.DEAD, error=str(exc))
            dead_letter(self._broker, message, str(exc))
            return
        if record.cancel_requested:
            self._store.finish(job_id, JobState.CANCELLED, error="cancelled before it started")
            return
        await self._run(message, definition, job_id, payload)

    async def _run(
        self, message: MessageProxy, definition: JobDefinition, job_id: str, payload: Any
    ) -> None:
        attempt = attempt_of(message.options)
        actor = self._broker.get_actor(message.actor_name)
        policy = policy_from_options(message.options, actor.options)
        # One round trip for both: the event loop runs every job's Redis calls.
        memo = self._store.begin_attempt(job_id, attempt=attempt, engine=ENGINE_DRAMATIQ)
        ctx = DramatiqContext(
            job_id,
            attempt,
            store=self._store,
            memo=memo if memo is not None else self._store.load_steps(job_id),
            clock=self._clock,
            sleep_threshold_s=self._sleep_threshold_s,
        )
        try:
            result = await execute(definition, ctx, payload)
        except SleepParked as parked:
            # Ends the attempt (the message is acked) without costing a retry:
            # the parked copy keeps its retry count and comes back when due.
            # State first: once the wake-up is scheduled a pump may resume the
            # job at any moment, and its "running" must not be overwritten.
            self._store.mark_sleeping(job_id, wake_at=parked.wake_at)
            member = parked_copy(message).encode().decode()
            self._store.schedule_wakeup(member, parked.wake_at)
            logger.info("job %s sleeps until %s", job_id, parked.wake_at)
        except JobCancelled as exc:
            self._store.finish(job_id, JobState.CANCELLED, error=str(exc))
        except PermanentError as exc:
            await self._failure_hook(definition, ctx, _describe(exc))
            self._store.finish(job_id, JobState.FAILED, error=_describe(exc))
        except asyncio.CancelledError:
            # Dramatiq's time limit interrupts the worker thread, which cancels
            # this coroutine; its Retries middleware then retries or dead-letters.
            self._interrupted(message, job_id, attempt, policy)
            raise
        except Exception as exc:
            await self._failed(message, definition, ctx, exc, policy)
        else:
            self._store.finish(job_id, JobState.SUCCEEDED, result=result)

    async def _failed(
        self,
        message: MessageProxy,
        definition: JobDefinition,
        ctx: DramatiqContext,
        exc: Exception,
        policy: RetryPolicy,
    ) -> None:
        error = _describe(exc)
        if ctx.attempt >= policy.max_attempts:
            reason = f"gave up after {ctx.attempt} attempts: {error}"
            logger.error("job %s: %s", ctx.job_id, reason)
            await self._failure_hook(definition, ctx, reason)
            self._store.finish(ctx.job_id, JobState.DEAD, error=reason)
            dead_letter(self._broker, message, reason)
            return
        # The retry is Dramatiq's (its Retries middleware re-enqueues and counts
        # it in the message), but the delay is ours: the job's RetryPolicy, so a
        # job backs off the same on Dramatiq as on Temporal.
        delay_s = policy.backoff_s(ctx.attempt)
        logger.warning("job %s attempt %d failed: %s", ctx.job_id, ctx.attempt, error)
        self._store.update(
            ctx.job_id,
            state=JobState.QUEUED,
            error=error,
            message=f"attempt {ctx.attempt} failed; retrying in {delay_s:g}s",
        )
        raise Retry(error, delay=max(1, round(delay_s * 1000))) from exc

    def _interrupted(
        self, message: MessageProxy, job_id: str, attempt: int, policy: RetryPolicy
    ) -> None:
        error = "interrupted: time limit exceeded"
        if attempt >= policy.max_attempts:
            reason = f"gave up after {attempt} attempts: {error}"
            self._store.finish(job_id, JobState.DEAD, error=reason)
            dead_letter(self._broker, message, reason)
        else:
            self._store.update(job_id, state=JobState.QUEUED, error=error)

    async def _failure_hook(
        self, definition: JobDefinition, ctx: DramatiqContext, error: str
    ) -> None:
        try:
            await run_failure_hook(definition, ctx, error)
        except Exception:
            logger.exception("on_failure hook of job %s failed", ctx.job_id)
