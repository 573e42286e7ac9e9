"""Names and JSON models that cross the workflow/activity boundary.

Everything here is imported inside the workflow sandbox, so it holds plain
pydantic models and constants only: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from ..flow import FlowPlan
from ..job import EngineJob

WORKFLOW_NAME = "jobrelay.job"
CLAIM_ACTIVITY = "jobrelay.claim"
STEP_ACTIVITY = "jobrelay.step"
RECORD_ACTIVITY = "jobrelay.record"
FLOW_ACTIVITY = "jobrelay.flow"
STATUS_QUERY = "jobrelay.status"

# ApplicationError types the activities raise and the workflow recognises.
PERMANENT_ERROR = "PermanentError"
CANCELLED_ERROR = "JobCancelled"
DEFINITION_ERROR = "JobDefinitionError"
# Workflow failure type: the job ended, details carry the jobrelay state.
JOB_FAILED = "JobFailed"

# The field of the Redis record holding the id of the workflow run that took
# the job (the workflow id is the job id); the job's detail links to it.
RUN_ID_FIELD = "temporal_run_id"


class RecordUpdate(BaseModel):
    """Fields of the Redis record to write with the next activity (None: leave as is)."""

    state: str | None = None
    progress: int | None = None
    message: str | None = None
    wake_at: float | None = None
    attempts: int | None = None

    def merge(self, newer: RecordUpdate) -> RecordUpdate:
        """This update overlaid with the fields ``newer`` sets."""
        return self.model_copy(update=newer.model_dump(exclude_none=True))


class ClaimInput(BaseModel):
    job: EngineJob


class ClaimOutput(BaseModel):
    """What the worker knows when the workflow starts."""

    module: str | None
    """Module defining the job, imported again inside the sandbox; None if unknown here."""
    tracked: bool
    """Whether this worker keeps a Redis record (it has a store)."""
    owner: str | None = None
    """Owner after the claim; None when Redis did not answer or is not used."""
    finished: bool = False
    """The record says the job already finished (an earlier run): nothing to do."""


class FlowInput(BaseModel):
    """Take (``enter``) or free (``leave``) a job's concurrency slot and rate turn."""

    job_id: str
    plan: FlowPlan
    op: Literal["enter", "leave"] = "enter"
    waited_turn: bool = False
    """The job was given its turn before: it waits only what is left of it."""
    poll_s: float = 1.0
    """The longest it waits for a slot before it looks again."""


class FlowOutput(BaseModel):
    verdict: Literal["admitted", "wait", "pass", "unavailable"]
    """``pass``: the job will not run (finished, cancelled, Dramatiq's); ``unavailable``:
    Redis did not answer, so the job waits (it never runs over its limit)."""
    wait_s: float = 0.0
    waiting_for: str = ""


class StepInput(BaseModel):
    job_id: str
    step_id: str
    ref: str
    args: list[Any]
    attempts: int = 1
    update: RecordUpdate | None = None
    ensure: EngineJob | None = None
    """Set until the record was created and claimed (Redis was down at start)."""
    hold: FlowPlan | None = None
    """The job holds a concurrency slot: the activity renews its lease while it runs."""
    turn: FlowPlan | None = None
    """The job's rate-limit turn is due: taken right before the step runs, so the
    limit holds on the steps' real start times (the first step of a run, and the
    first after each sleep)."""
    waited_turn: bool = False
    """It was given its turn before and waited for it."""


class StepOutput(BaseModel):
    value: str
    """The step's result as JSON, decoded in the workflow with the step's return type."""
    attempt: int
    synced: bool
    """Whether ``update`` (and ``ensure``) reached Redis."""
    owner: str | None = None
    finished: bool = False
    """``ensure`` found the job finished by an earlier run: the step did not run."""
    started_at: float | None = None
    """When this attempt of the activity started (epoch seconds, the worker's clock)."""
    wait_s: float | None = None
    """Set when the step did not run: its turn is not due yet (``waiting_for`` ``rate``),
    or Redis did not answer to give it (``unavailable``). Run it again after the wait."""
    waiting_for: str = ""


class FinishInput(BaseModel):
    state: str
    result: Any = None
    error: str | None = None
    attempt: int | None = None
    """The run's last attempt, for the attempt log (None: histories from before it)."""
    started_at: float | None = None
    """When that attempt started."""


class RecordInput(BaseModel):
    job_id: str
    update: RecordUpdate | None = None
    ensure: EngineJob | None = None
    finish: FinishInput | None = None
    release: FlowPlan | None = None
    """Free the job's concurrency slot with the outcome (one round trip)."""


class RecordOutput(BaseModel):
    synced: bool
    owner: str | None = None
    finished: bool = False
    """``ensure`` found the job finished by an earlier run: nothing was written."""


class WorkflowStatus(BaseModel):
    """Answer of the status query while the workflow runs."""

    state: str
    progress: int = 0
    message: str = ""
    attempts: int = 0


class JobOutcome(BaseModel):
    """The workflow's result."""

    result: Any = None
    attempts: int = 1
    duplicate_of: str | None = None
    """Set when another engine owned the job: this run did nothing."""
