from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, status
from jobrelay.dispatcher import (
    MAX_DELAY_S,
    DispatchReceipt,
    InvalidDispatch,
    JobDetail,
    JobRequest,
)
from jobrelay.job_engine import list_jobs
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ..auth import require_token
from ..params import json_text
from ..problems import problem

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}$"

router = APIRouter(dependencies=[Depends(require_token)])
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN)]
# Seconds; strict: a JSON true is not a delay of one second.
Delay = Annotated[float | None, Field(ge=0, le=MAX_DELAY_S, strict=True)]
# Text and JSON every engine can carry (no lone surrogate, no NaN): 422, not a 500 later.
JobName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(json_text)]
Payload = Annotated[dict[str, Any], AfterValidator(json_text)]
# A dispatch priority: a name, or a key from 1 (first) to 5 (last).
Priority = Literal["high", "normal", "low"] | Annotated[int, Field(ge=1, le=5, strict=True)] | None


class DispatchRequest(BaseModel):
    name: JobName
    payload: Payload = Field(default_factory=dict)
    job_id: str | None = Field(None, pattern=JOB_ID_PATTERN)
    delay: Delay = None
    confirm: Literal["admission", "pickup"] = "admission"
    priority: Priority = None


class BatchJob(BaseModel):
    """One item of ``POST /jobs/batch``: a dispatch without ``confirm`` (admission only)."""

    model_config = ConfigDict(extra="forbid")

    name: JobName
    payload: Payload = Field(default_factory=dict)
    job_id: str | None = Field(None, pattern=JOB_ID_PATTERN)
    delay: Delay = None
    priority: Priority = None


class BatchRequest(BaseModel):
    # Items are checked one by one in the handler: one bad item must not
    # refuse the whole batch.
    jobs: list[dict[str, Any]] = Field(min_length=1)


class BatchProblem(BaseModel):
    """Why one item was not dispatched: the status a single dispatch would have got."""

    status: int
    type: str
    detail: Any


class BatchItem(BaseModel):
    index: int
    receipt: DispatchReceipt | None = None
    error: BatchProblem | None = None


class BatchResponse(BaseModel):
    accepted: int
    failed: int
    results: list[BatchItem]


class CancelResponse(BaseModel):
    job_id: str
    cancelled: bool


class JobType(BaseModel):
    name: str
    queue: str
    payload_schema: dict[str, Any] | None


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED)
async def dispatch(body: DispatchRequest, request: Request) -> DispatchReceipt:
    """Dispatch a job; 202 once an engine holds it, 503 with Retry-After when none does."""
    receipt: DispatchReceipt = await request.app.state.dispatcher.dispatch(
        body.name,
        body.payload,
        job_id=body.job_id,
        delay=body.delay,
        confirm=body.confirm,
        priority=body.priority,
    )
    return receipt


@router.post("/jobs/batch")
async def dispatch_batch(body: BatchRequest, request: Request) -> BatchResponse:
    """Dispatch many jobs; one result per item in order, each a receipt or its error.

    200 whatever the items' fate (count them with ``accepted``/``failed``);
    422 naming ``jobs`` for an empty batch or one over ``JOBRELAY_MAX_BATCH_SIZE``.
    """
    dispatcher = request.app.state.dispatcher
    limit = dispatcher.settings.max_batch_size
    if len(body.jobs) > limit:
        raise InvalidDispatch(
            "jobs",
            f"at most {limit} jobs per batch (JOBRELAY_MAX_BATCH_SIZE), got {len(body.jobs)}",
        )
    items: dict[int, BatchItem] = {}
    valid: list[tuple[int, JobRequest]] = []
    for index, raw in enumerate(body.jobs):
        try:
            job = BatchJob.model_validate(raw)
        except ValidationError as exc:
            detail = [
                {"loc": ["body", "jobs", index, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False)
            ]
            problem_ = BatchProblem(status=422, type="invalid_dispatch", detail=detail)
            items[index] = BatchItem(index=index, error=problem_)
            continue
        valid.append((index, JobRequest(**job.model_dump())))
    results = await dispatcher.dispatch_many([job for _, job in valid])
    for (index, _), result in zip(valid, results, strict=True):
        if result.receipt is not None:
            items[index] = BatchItem(index=index, receipt=result.receipt)
        else:
            assert result.error is not None
            status_, problem_body = problem(result.error, ("body", "jobs", index))
            items[index] = BatchItem(
                index=index, error=BatchProblem(status=status_, **problem_body)
            )
    ordered = [items[index] for index in range(len(body.jobs))]
    accepted = sum(item.receipt is not None for item in ordered)
    return BatchResponse(accepted=accepted, failed=len(ordered) - accepted, results=ordered)


@router.get("/jobs/{job_id}")
async def status_of(job_id: JobId, request: Request) -> JobDetail:
    """The job's state, progress and result on whichever engine runs it, and its detail:
    payload, attempts (with the last lines of each failure's traceback), steps, and
    for a Temporal run its workflow and run ids with a link into the Temporal UI."""
    result: JobDetail = await request.app.state.dispatcher.get_detail(job_id)
    return result


@router.post("/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry(job_id: JobId, request: Request, fresh: bool = False) -> DispatchReceipt:
    """Run a failed, dead or cancelled job again; 202 with the new run's receipt.

    Finished steps are kept unless ``fresh=true``. 409 naming the state for a
    job that is queued, running, sleeping or succeeded; 404 for an unknown id.
    """
    receipt: DispatchReceipt = await request.app.state.dispatcher.retry(job_id, fresh=fresh)
    return receipt


@router.post("/jobs/{job_id}/cancel")
async def cancel(job_id: JobId, request: Request) -> CancelResponse:
    """Ask the job to stop; ``cancelled`` is false when it had already finished."""
    done: bool = await request.app.state.dispatcher.cancel(job_id)
    return CancelResponse(job_id=job_id, cancelled=done)


@router.get("/job-types")
async def job_types() -> list[JobType]:
    """Every registered job with its queue and payload JSON schema."""
    return [
        JobType(
            name=d.name,
            queue=d.queue,
            payload_schema=d.payload_model.model_json_schema() if d.payload_model else None,
        )
        for d in list_jobs()
    ]
