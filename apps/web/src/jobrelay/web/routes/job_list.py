"""The job list over both engines, and what an operator does to many jobs or removes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from jobrelay.dispatcher import MAX_PAGE, BulkOutcome, JobList, job_filter
from jobrelay.queue import JobFilter, JobState

from ..auth import require_token
from ..params import Instant
from ..problems import responses
from .jobs import JobId

router = APIRouter(dependencies=[Depends(require_token)])

# Names as the registry and queue specs allow them; anything else matches no job.
_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,199}$"


def list_filter(
    state: Annotated[JobState | None, Query(description="the job's state")] = None,
    queue: Annotated[str | None, Query(max_length=100, pattern=_NAME)] = None,
    name: Annotated[str | None, Query(max_length=200, pattern=_NAME)] = None,
    engine: Annotated[Literal["dramatiq", "temporal"] | None, Query()] = None,
    since: Annotated[Instant | None, Query(description="created at or after (ISO 8601)")] = None,
    until: Annotated[Instant | None, Query(description="created at or before (ISO 8601)")] = None,
) -> JobFilter:
    """The filters shared by the list and the bulk actions."""
    return job_filter(state=state, queue=queue, name=name, engine=engine, since=since, until=until)


Filter = Annotated[JobFilter, Depends(list_filter)]


@router.get("/jobs", responses=responses(401, 422, 503))
async def list_jobs(
    where: Filter,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> JobList:
    """Jobs of both engines, newest first, filtered; follow ``next_cursor`` for the next page.

    A filter that matches few jobs may answer a short (even empty) page with
    a ``next_cursor``: the index is read a bounded stretch per request.
    """
    page: JobList = await request.app.state.dispatcher.list_jobs(where, limit=limit, cursor=cursor)
    return page


@router.post("/jobs/retry", responses=responses(401, 422, 503))
async def retry_jobs(
    where: Filter,
    request: Request,
    fresh: bool = False,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> BulkOutcome:
    """Retry the failed, dead or cancelled jobs the filters select, up to ``limit``.

    ``limit`` defaults to ``JOBRELAY_BULK_LIMIT`` and may not exceed it (422).
    Calling again is safe: retried jobs are queued, no longer selected; ``more``
    says jobs were left for another call.
    """
    outcome: BulkOutcome = await request.app.state.dispatcher.retry_many(
        where, fresh=fresh, limit=limit
    )
    return outcome


@router.post("/jobs/cancel", responses=responses(401, 422, 503))
async def cancel_jobs(
    where: Filter,
    request: Request,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> BulkOutcome:
    """Cancel the queued, running or sleeping jobs the filters select, up to ``limit``."""
    outcome: BulkOutcome = await request.app.state.dispatcher.cancel_many(where, limit=limit)
    return outcome


@router.delete(
    "/jobs/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 404, 409, 503),
)
async def delete_job(job_id: JobId, request: Request) -> Response:
    """Remove a finished job's record; 409 naming the state of one that has not finished."""
    await request.app.state.dispatcher.delete_job(job_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
