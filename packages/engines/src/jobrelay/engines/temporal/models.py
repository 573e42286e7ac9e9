"""Names and JSON models that cross the workflow/activity boundary.

Everything here is imported inside the workflow sandbox, so it holds plain
pydantic models and constants only: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ..job import EngineJob

WORKFLOW_NAME = "jobrelay.job"
CLAIM_ACTIVITY = "jobrelay.claim"
STEP_ACTIVITY = "jobrelay.step"
RECORD_ACTIVITY = "jobrelay.record"
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


class StepInput(BaseModel):
    job_id: str
    step_id: str
    ref: str
    args: list[Any]
    attempts: int = 1
    update: RecordUpdate | None = None
    ensure: EngineJob | None = None
    """Set until the record was created and claimed (Redis was down at start)."""


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
