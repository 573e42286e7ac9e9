"""The job context inside the workflow: steps are activities, sleeps are timers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from jobrelay.job_engine import (
    BaseJobContext,
    JobCancelled,
    JobDefinition,
    PermanentError,
    step_ref,
    step_result_type,
)
from jobrelay.queue import ENGINE_TEMPORAL
from pydantic import TypeAdapter
from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    is_cancelled_exception,
)

from ..models import (
    CANCELLED_ERROR,
    PERMANENT_ERROR,
    STEP_ACTIVITY,
    RecordUpdate,
    StepInput,
    StepOutput,
)
from .flow_hold import FlowHold
from .policy import heartbeat_timeout, step_retry_policy, step_time_limit
from .recorder import Recorder


class WorkflowJobContext(BaseJobContext):
    """``JobContext`` for a job body running in :class:`JobWorkflow`."""

    def __init__(self, definition: JobDefinition, recorder: Recorder) -> None:
        super().__init__(recorder.job.job_id, attempt=1, engine=ENGINE_TEMPORAL)
        self._recorder = recorder
        self._retry_policy = step_retry_policy(definition)
        self._time_limit = step_time_limit(definition)
        self._heartbeat_timeout = heartbeat_timeout(definition)
        self._cancelled = False
        self.cancelled_by_temporal = False
        self.flow: FlowHold | None = None
        """The run's slot and turn, when the job is under flow control."""

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def progress(self, percent: int, message: str = "") -> None:
        self._recorder.note(RecordUpdate(progress=max(0, min(100, percent)), message=message))

    def log(self, message: str, **fields: Any) -> None:
        # workflow.logger stays quiet while history replays, so a line is logged once.
        workflow.logger.info(
            message, extra={"job_id": self.job_id, "engine": self.engine, **fields}
        )

    async def _run_step(self, step_id: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        if self._cancelled:
            raise JobCancelled(f"job {self.job_id} cancelled before step {step_id!r}")
        ref = step_ref(fn)
        flow = self.flow
        waited_turn = False
        while True:
            update, ensure = self._recorder.outgoing()
            call = StepInput(
                job_id=self.job_id,
                step_id=step_id,
                ref=ref,
                args=list(args),
                attempts=self._recorder.attempts,
                update=update,
                ensure=ensure,
                hold=flow.plan if flow is not None and flow.held else None,
                turn=flow.plan if flow is not None and flow.turn_due else None,
                waited_turn=waited_turn,
            )
            try:
                out: StepOutput = await workflow.execute_activity(
                    STEP_ACTIVITY,
                    call,
                    result_type=StepOutput,
                    activity_id=step_id,
                    start_to_close_timeout=self._time_limit,
                    heartbeat_timeout=self._heartbeat_timeout,
                    retry_policy=self._retry_policy,
                    summary=step_id,
                )
            except (asyncio.CancelledError, ActivityError) as exc:
                translated = self._translate(step_id, exc)
                if translated is exc:
                    raise
                raise translated from exc
            self._recorder.delivered(
                synced=out.synced, owner=out.owner, sent=update, finished=out.finished
            )
            if out.wait_s is None or flow is None:
                break
            # Not its rate-limit turn yet: the step did not run; wait on a timer.
            waited_turn = waited_turn or out.waiting_for == "rate"
            try:
                await flow.wait_for_turn(out.wait_s, out.waiting_for)
            except asyncio.CancelledError as exc:
                raise self._translate(step_id, exc) from exc
        if flow is not None:
            flow.turn_due = False
        self._attempt = out.attempt
        self._recorder.attempt_began(out.attempt, out.started_at)
        return TypeAdapter(step_result_type(fn)).validate_json(out.value)

    async def _sleep(self, step_id: str, seconds: float | None, until: datetime | None) -> None:
        if self._cancelled:
            raise JobCancelled(f"job {self.job_id} cancelled before sleep {step_id!r}")
        now = workflow.now()
        if seconds is not None:
            duration = seconds
        else:
            assert until is not None
            duration = (until - now).total_seconds()
        if duration <= 0:
            return
        self._recorder.note(RecordUpdate(state="sleeping", wake_at=now.timestamp() + duration))
        try:
            await self._recorder.flush()
            if self.flow is not None:
                # A sleeping job does not run: its slot is someone else's meanwhile.
                await self.flow.leave()
            await workflow.sleep(duration, summary=step_id)
            if self.flow is not None:
                await self.flow.enter()
        except asyncio.CancelledError as exc:
            raise self._translate(step_id, exc) from exc
        self._recorder.note(RecordUpdate(state="running"))

    def _translate(self, step_id: str, exc: BaseException) -> BaseException:
        """Map an activity's failure to what the job body should see."""
        if is_cancelled_exception(exc):
            self._cancelled = True
            self.cancelled_by_temporal = True
            return JobCancelled(f"job {self.job_id} cancelled during {step_id!r}")
        if (
            isinstance(exc, ActivityError)
            and exc.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
        ):
            # Every attempt the policy allows was made; the failed ones never reported back.
            self._recorder.note(RecordUpdate(attempts=self._retry_policy.maximum_attempts))
        cause = exc.cause if isinstance(exc, ActivityError) else None
        if isinstance(cause, ApplicationError):
            if cause.type == CANCELLED_ERROR:
                self._cancelled = True
                return JobCancelled(cause.message)
            if cause.type == PERMANENT_ERROR:
                return PermanentError(cause.message)
        return exc
