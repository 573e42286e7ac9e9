"""Helpers shared by the Temporal adapter tests (importable: ``support/`` is on sys.path)."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from jobrelay.engines import EngineJob
from jobrelay.engines.temporal import JobOutcome
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import Worker

StartWorker = Callable[..., Awaitable[Worker]]


def engine_job(name: str, probe: dict[str, str], *, queue: str = "default") -> EngineJob:
    return EngineJob(job_id=f"job-{uuid.uuid4().hex[:12]}", name=name, queue=queue, payload=probe)


def handle(client: Client, job_id: str) -> WorkflowHandle[Any, JobOutcome]:
    return client.get_workflow_handle(job_id, result_type=JobOutcome)


async def wait_until(
    check: Callable[[], Any | Awaitable[Any]], *, timeout_s: float = 20.0, what: str = ""
) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or check}")
        await asyncio.sleep(0.05)


async def wait_for_status(
    wf: WorkflowHandle[Any, Any], status: WorkflowExecutionStatus, *, timeout_s: float = 20.0
) -> None:
    """Until the workflow's execution status is ``status``."""

    async def reached() -> bool:
        return (await wf.describe()).status == status

    await wait_until(reached, timeout_s=timeout_s, what=f"workflow {wf.id} {status.name}")
