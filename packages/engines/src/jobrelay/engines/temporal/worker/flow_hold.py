"""Flow control inside the job workflow: wait for a slot and a turn on durable timers.

Workflow code (deterministic, replay-safe): Redis is asked through the local
activity ``jobrelay.flow``, and a job that must wait sleeps on a workflow
timer, which holds no worker slot however long the wait. When Redis does not
answer, the job waits too (1 s, doubling to 15 s) and asks again: a job
under a limit never starts without its slot.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from jobrelay.queue import JobState
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError, is_cancelled_exception

from ...flow import FlowPlan, slot_poll_s
from ...job import EngineJob
from ..models import FLOW_ACTIVITY, FlowInput, FlowOutput
from .recorder import Recorder

# Replays of histories from before flow control skip it (no commands then).
FLOW_CONTROL = "jobrelay-flow-control"

FLOW_TIMEOUT = timedelta(seconds=10)
FLOW_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3)
# Each wait for a slot is a timer and an activity in the history: look less
# often than a Dramatiq worker does.
SLOT_POLL_CAP_S = 2.0
UNAVAILABLE_WAIT_FIRST_S = 1.0
UNAVAILABLE_WAIT_MAX_S = 15.0


class FlowHold:
    """One run's concurrency slot and rate turn.

    The slot is taken here, before the body and again after each sleep, and
    given back before a sleep and with the outcome. The rate turn is taken by
    the step activity right before the step runs (``StepInput.turn``): a turn
    taken here would be used only once the step's activity task had gone
    through the server, late by a varying amount, and the limit would no
    longer hold on the steps' real start times. So a job under both limits
    holds its slot while it waits for its turn.
    """

    def __init__(self, job: EngineJob, plan: FlowPlan, recorder: Recorder) -> None:
        self.job = job
        self.plan = plan
        self.slot_plan = plan.model_copy(update={"rate_key": None, "interval_s": None})
        self.recorder = recorder
        self.held = False
        """Whether this run holds its slot now (a job with a concurrency limit)."""
        self.turn_due = plan.rate_key is not None
        """Whether the next step must take a rate-limit turn first."""
        self._unavailable_wait = UNAVAILABLE_WAIT_FIRST_S

    async def enter(self) -> None:
        """Wait until the job has its slot (or will not run at all); its next step
        takes a rate-limit turn."""
        self.turn_due = self.plan.rate_key is not None
        if self.plan.limit is None:
            return
        waits = 0
        waited_turn = False
        unavailable_wait = UNAVAILABLE_WAIT_FIRST_S
        state = self.recorder.state
        while True:
            out = await self._call(
                FlowInput(
                    job_id=self.job.job_id,
                    plan=self.slot_plan,
                    waited_turn=waited_turn,
                    poll_s=slot_poll_s(waits, cap_s=SLOT_POLL_CAP_S),
                )
            )
            if out.verdict == "admitted":
                self.held = True
                self.recorder.state = state
                self.recorder.message = ""
                return
            if out.verdict == "pass":
                # Finished, cancelled or Dramatiq's: the first activity's claim says so.
                self.recorder.state = state
                return
            if out.verdict == "unavailable":
                wait = unavailable_wait
                unavailable_wait = min(unavailable_wait * 2, UNAVAILABLE_WAIT_MAX_S)
                why = "Redis to answer"
            else:
                wait = out.wait_s
                waits += 1
                waited_turn = waited_turn or out.waiting_for == "rate"
                why = "its turn" if out.waiting_for == "rate" else "a concurrency slot"
            self.recorder.state = JobState.QUEUED
            self.recorder.message = f"waiting for {why}"
            await workflow.sleep(max(wait, 0.001), summary=f"wait for {why}")

    async def wait_for_turn(self, wait_s: float, waiting_for: str) -> None:
        """The step said its turn is not due (or Redis did not answer): wait on a timer."""
        if waiting_for == "unavailable":
            wait_s = self._unavailable_wait
            self._unavailable_wait = min(self._unavailable_wait * 2, UNAVAILABLE_WAIT_MAX_S)
            why = "Redis to answer"
        else:
            self._unavailable_wait = UNAVAILABLE_WAIT_FIRST_S
            why = "its turn"
        state, message = self.recorder.state, self.recorder.message
        self.recorder.message = f"waiting for {why}"
        await workflow.sleep(max(wait_s, 0.001), summary=f"wait for {why}")
        self.recorder.state, self.recorder.message = state, message

    def handover(self) -> FlowPlan | None:
        """The slot to free with the outcome's write (None when none is held)."""
        if not self.held:
            return None
        self.held = False
        return self.plan

    async def leave(self) -> None:
        """Free the slot now (before a sleep; a run that stops without an outcome)."""
        if self.held:
            self.held = False
            await self._call(FlowInput(job_id=self.job.job_id, plan=self.slot_plan, op="leave"))

    async def _call(self, data: FlowInput) -> FlowOutput:
        try:
            out: FlowOutput = await workflow.execute_local_activity(
                FLOW_ACTIVITY,
                data,
                result_type=FlowOutput,
                start_to_close_timeout=FLOW_TIMEOUT,
                retry_policy=FLOW_RETRY,
                summary=f"flow {data.op}",
            )
        except FailureError as exc:
            if is_cancelled_exception(exc):
                # The job's cancel, as in the recorder: it must reach the job.
                raise asyncio.CancelledError(str(exc)) from exc
            workflow.logger.warning("flow control call failed: %s", exc.cause or exc)
            return FlowOutput(verdict="unavailable")
        return out
