from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, status
from jobrelay.dispatcher import DispatchReceipt, JobStatus
from jobrelay.job_engine import list_jobs
from pydantic import BaseModel, Field

from ..auth import require_token

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}$"

router = APIRouter(dependencies=[Depends(require_token)])
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN)]


class DispatchRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)
    job_id: str | None = Field(None, pattern=JOB_ID_PATTERN)
    delay: float | None = Field(None, ge=0)
    confirm: Literal["admission", "pickup"] = "admission"


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
        body.name, body.payload, job_id=body.job_id, delay=body.delay, confirm=body.confirm
    )
    return receipt


@router.get("/jobs/{job_id}")
async def status_of(job_id: JobId, request: Request) -> JobStatus:
    """The job's state, progress and result on whichever engine runs it."""
    result: JobStatus = await request.app.state.dispatcher.get_status(job_id)
    return result


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
