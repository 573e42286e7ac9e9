"""A job's status as Temporal knows it, in the shape of jobrelay's ``JobStatus``."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from jobrelay.queue import ENGINE_TEMPORAL, JobState
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from .models import JOB_FAILED, STATUS_QUERY, JobOutcome, WorkflowStatus

_STATES = {
    WorkflowExecutionStatus.RUNNING: JobState.RUNNING,
    WorkflowExecutionStatus.CONTINUED_AS_NEW: JobState.RUNNING,
    WorkflowExecutionStatus.COMPLETED: JobState.SUCCEEDED,
    WorkflowExecutionStatus.FAILED: JobState.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: JobState.FAILED,
    WorkflowExecutionStatus.CANCELED: JobState.CANCELLED,
    WorkflowExecutionStatus.TERMINATED: JobState.CANCELLED,
}
# Started and first task scheduled, nothing more: no worker has picked it up yet.
_UNPICKED_HISTORY_LENGTH = 3


async def describe_job(
    handle: WorkflowHandle[Any, Any], *, rpc_timeout: timedelta, query_timeout: timedelta
) -> dict[str, Any] | None:
    """Status fields of the job run by ``handle``'s workflow; None when there is none.

    While running, progress comes from the workflow's status query; when the
    query gets no answer (no worker polling) the state is ``queued`` or
    ``running`` from the history length.
    """
    try:
        desc = await handle.describe(rpc_timeout=rpc_timeout)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    memo = await desc.memo()
    status: dict[str, Any] = {
        "job_id": handle.id,
        "name": memo.get("name", ""),
        "queue": memo.get("queue", ""),
        "engine": ENGINE_TEMPORAL,
        "state": _STATES.get(desc.status, JobState.RUNNING) if desc.status else JobState.RUNNING,
        "attempts": 0,
        "progress": 0,
        "message": "",
        "result": None,
        "error": None,
        "created_at": desc.start_time.timestamp(),
        "started_at": desc.execution_time.timestamp() if desc.execution_time else None,
        "finished_at": desc.close_time.timestamp() if desc.close_time else None,
        "workflow_id": desc.id,
        "run_id": desc.run_id,
    }
    if desc.status == WorkflowExecutionStatus.RUNNING:
        try:
            # Bounded here too: the client may retry a query the server holds
            # (no worker answers), and the whole status call would time out.
            async with asyncio.timeout(query_timeout.total_seconds()):
                live = await handle.query(
                    STATUS_QUERY, result_type=WorkflowStatus, rpc_timeout=query_timeout
                )
        except (WorkflowQueryFailedError, RPCError, TimeoutError):
            status["state"] = (
                JobState.QUEUED
                if desc.history_length <= _UNPICKED_HISTORY_LENGTH
                else JobState.RUNNING
            )
        else:
            status.update(live.model_dump())
    elif desc.status == WorkflowExecutionStatus.COMPLETED:
        outcome = JobOutcome.model_validate(await handle.result(rpc_timeout=rpc_timeout))
        status.update(result=outcome.result, attempts=outcome.attempts, progress=100)
        if outcome.duplicate_of is not None:
            status.update(
                state=JobState.CANCELLED,
                duplicate_of=outcome.duplicate_of,
                message=f"duplicate: the job is owned by {outcome.duplicate_of}",
                progress=0,
            )
    elif desc.status == WorkflowExecutionStatus.FAILED:
        status.update(_failure(await _failure_of(handle, rpc_timeout)))
    return status


async def _failure_of(
    handle: WorkflowHandle[Any, Any], rpc_timeout: timedelta
) -> BaseException | None:
    try:
        await handle.result(rpc_timeout=rpc_timeout)
    except WorkflowFailureError as exc:
        return exc.cause
    return None


def _failure(cause: BaseException | None) -> dict[str, Any]:
    if isinstance(cause, ApplicationError) and cause.type == JOB_FAILED:
        details = list(cause.details)
        out: dict[str, Any] = {"error": cause.message}
        if details:
            out["state"] = str(details[0])
        if len(details) > 1 and isinstance(details[1], int):
            out["attempts"] = details[1]
        return out
    return {"error": str(cause) if cause is not None else "failed"}
