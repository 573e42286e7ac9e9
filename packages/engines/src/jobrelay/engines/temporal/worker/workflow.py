"""``JobWorkflow``: the one workflow type; it runs any job's body unchanged.

The sandbox imports this module and every registered job module afresh for
each run (see ``sandbox.py``), so a body that reads the clock or does I/O
between steps fails the workflow instead of running silently. The job
modules are imported here, as the sandbox loads this module, and never while
a run is under way.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from jobrelay.job_engine import (
    JobCancelled,
    JobDefinition,
    UnknownJob,
    execute,
    get_job,
    run_failure_hook,
)
from jobrelay.queue import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, JobState
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from ...flow import FlowPlan
from ...job import EngineJob
from ..models import (
    CLAIM_ACTIVITY,
    DEFINITION_ERROR,
    JOB_FAILED,
    STATUS_QUERY,
    WORKFLOW_NAME,
    ClaimInput,
    ClaimOutput,
    FinishInput,
    JobOutcome,
    WorkflowStatus,
)
from .context import WorkflowJobContext
from .flow_hold import FLOW_CONTROL, FlowHold
from .recorder import DuplicateRun, Recorder
from .sandbox import job_module, load_sandbox_jobs

CLAIM_TIMEOUT = timedelta(seconds=10)
CLAIM_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=5)
# Between claims of a job that must be claimed first, while Redis is away.
CLAIM_WAIT_FIRST = timedelta(seconds=1)
CLAIM_WAIT_MAX = timedelta(seconds=15)

# Workflows started since the claim rides on the first activity: older histories
# replay with the claim as a local activity of its own.
CLAIM_WITH_FIRST_ACTIVITY = "jobrelay-claim-with-first-activity"

# Every job this run may need, imported now, while the sandbox loads this module.
_SANDBOX_JOBS = load_sandbox_jobs()


@workflow.defn(name=WORKFLOW_NAME, failure_exception_types=[Exception])
class JobWorkflow:
    """Claims the job in Redis, runs its body, records the outcome."""

    def __init__(self) -> None:
        self._recorder: Recorder | None = None

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> WorkflowStatus:
        """State, progress and attempts of the running job."""
        if self._recorder is None:
            return WorkflowStatus(state="queued")
        return self._recorder.status()

    async def _claim_before_running(self, job: EngineJob) -> ClaimOutput:
        """The claim as a round of its own: replayed histories of older runs, and jobs
        that must be claimed before anything runs (``claim_first``)."""
        claim = await self._claim(job)
        wait = CLAIM_WAIT_FIRST
        while job.claim_first and claim.tracked and claim.owner is None:
            # Redis may hold this job too, and a Dramatiq worker may take it
            # once Redis is back: run nothing until the claim says whose it is.
            # A timer holds no worker slot, however long Redis stays away.
            await workflow.sleep(wait, summary="wait for the owner claim")
            wait = min(wait * 2, CLAIM_WAIT_MAX)
            claim = await self._claim(job)
        return claim

    async def _claim(self, job: EngineJob) -> ClaimOutput:
        # A local activity: it runs in this worker within the current workflow
        # task, so claiming costs no extra round of tasks through the server.
        claim: ClaimOutput = await workflow.execute_local_activity(
            CLAIM_ACTIVITY,
            ClaimInput(job=job),
            result_type=ClaimOutput,
            start_to_close_timeout=CLAIM_TIMEOUT,
            retry_policy=CLAIM_RETRY,
            summary="claim",
        )
        return claim

    @workflow.run
    async def run(self, job: EngineJob) -> JobOutcome:
        """Run job ``job.name`` once, unless Dramatiq already owns it."""
        if not job.claim_first and workflow.patched(CLAIM_WITH_FIRST_ACTIVITY):
            # The first activity that reaches Redis claims the job (``ensure``)
            # before it runs anything: no round of its own for the claim.
            recorder = Recorder(job, tracked=True, recorded=False)
            module = job_module(job.name)
        else:
            claim = await self._claim_before_running(job)
            if claim.owner == ENGINE_DRAMATIQ:
                workflow.logger.info("job %s is owned by dramatiq: nothing to do", job.job_id)
                return JobOutcome(duplicate_of=claim.owner, attempts=0)
            if claim.finished:
                workflow.logger.info("job %s already finished in an earlier run", job.job_id)
                return JobOutcome(duplicate_of=ENGINE_TEMPORAL, attempts=0)
            recorded = claim.owner == ENGINE_TEMPORAL
            recorder = Recorder(job, tracked=claim.tracked, recorded=recorded)
            module = claim.module
        self._recorder = recorder
        recorder.attempt_started_at = workflow.now().timestamp()
        definition: JobDefinition | None = None
        ctx: WorkflowJobContext | None = None
        try:
            definition = _definition(job.name, module)
            ctx = WorkflowJobContext(definition, recorder)
            if definition.flow.limits_starts and workflow.patched(FLOW_CONTROL):
                # Its concurrency slot and rate turn first, waiting on timers.
                plan = FlowPlan.of(definition, job.payload)
                assert plan is not None
                ctx.flow = FlowHold(job, plan, recorder)
                await ctx.flow.enter()
            result = await execute(definition, ctx, job.payload)
        except DuplicateRun as dup:
            workflow.logger.warning("job %s: %s; stopping this run", job.job_id, dup)
            if ctx is not None and ctx.flow is not None:
                await ctx.flow.leave()
            if not dup.finished:
                recorder.state = JobState.CANCELLED
            return JobOutcome(
                duplicate_of=dup.owner, attempts=0 if dup.finished else recorder.attempts
            )
        except (JobCancelled, asyncio.CancelledError) as exc:
            error = f"cancelled: {exc}" if str(exc) else "cancelled"
            await recorder.finish(
                FinishInput(state=JobState.CANCELLED, error=error), release=_release(ctx)
            )
            if isinstance(exc, asyncio.CancelledError) or (ctx and ctx.cancelled_by_temporal):
                # Ends the workflow as cancelled (the request came through Temporal).
                raise asyncio.CancelledError(error) from None
            raise ApplicationError(
                error, "cancelled", recorder.attempts, type=JOB_FAILED, non_retryable=True
            ) from exc
        except Exception as exc:
            state = JobState.DEAD if _retries_exhausted(exc) else JobState.FAILED
            error = describe_error(exc)
            if definition is not None and ctx is not None:
                await _failure_hook(definition, ctx, error)
            await recorder.finish(FinishInput(state=state, error=error), release=_release(ctx))
            raise ApplicationError(
                error, state, recorder.attempts, type=JOB_FAILED, non_retryable=True
            ) from exc
        await recorder.finish(
            FinishInput(state=JobState.SUCCEEDED, result=result), release=_release(ctx)
        )
        return JobOutcome(result=result, attempts=recorder.attempts)


def _release(ctx: WorkflowJobContext | None) -> FlowPlan | None:
    """The concurrency slot the run holds, to free with its outcome."""
    return ctx.flow.handover() if ctx is not None and ctx.flow is not None else None


def _definition(name: str, module: str | None) -> JobDefinition:
    """The sandboxed copy of job ``name``; a non-retryable error naming its module if absent."""
    if _SANDBOX_JOBS is None:
        # Not sandboxed (an unsandboxed runner): the process's own registry.
        try:
            return get_job(name)
        except UnknownJob as exc:
            raise ApplicationError(str(exc), type=DEFINITION_ERROR, non_retryable=True) from exc
    definition = _SANDBOX_JOBS.definitions.get(name)
    if definition is None:
        raise ApplicationError(
            _SANDBOX_JOBS.missing(name, module), type=DEFINITION_ERROR, non_retryable=True
        )
    return definition


async def _failure_hook(definition: JobDefinition, ctx: WorkflowJobContext, error: str) -> None:
    try:
        await run_failure_hook(definition, ctx, error)
    except Exception as exc:
        # The job has failed either way; a failing hook must not hide why.
        workflow.logger.warning("on_failure hook of %s failed: %s", definition.name, exc)


def _retries_exhausted(exc: BaseException) -> bool:
    return isinstance(exc, ActivityError) and exc.retry_state in (
        RetryState.MAXIMUM_ATTEMPTS_REACHED,
        RetryState.TIMEOUT,
    )


def describe_error(exc: BaseException) -> str:
    """One line naming what failed: the step and its error, or the body's own error."""
    if isinstance(exc, ActivityError):
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            what = f"{cause.type}: {cause.message}"
        elif cause is not None:
            what = f"{type(cause).__name__}: {cause}"
        else:
            what = str(exc)
        return f"step {exc.activity_id!r} failed: {what}"
    return f"{type(exc).__name__}: {exc}"
