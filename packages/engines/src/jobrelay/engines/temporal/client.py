"""Connecting to Temporal and the dispatcher's handle on job workflows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

from jobrelay.queue import QueueSettings
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import Priority, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from ..job import EngineJob
from ..tracing import tracing_on
from .connection import TemporalConnection
from .errors import TemporalUnavailable
from .models import WORKFLOW_NAME, JobOutcome
from .status import describe_job

logger = logging.getLogger(__name__)

T = TypeVar("T")

_UNAVAILABLE = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)


async def connect(
    target: str | TemporalConnection,
    namespace: str = "default",
    *,
    runtime: Runtime | None = None,
) -> Client:
    """A client that speaks JSON through pydantic (never pickle).

    ``target`` is an address (plain text, ``namespace``) or a
    :class:`TemporalConnection` (its own namespace, TLS and API key).
    ``runtime`` is the Temporal runtime (its telemetry, say); the SDK's
    default when None. Raises :class:`TemporalUnavailable` when the server
    cannot be reached, :class:`TemporalConfigurationError` for TLS files
    that cannot be read.
    """
    connection = (
        target if isinstance(target, TemporalConnection) else TemporalConnection(target, namespace)
    )
    tls = connection.tls_option()
    interceptors = []
    if tracing_on():
        # Imported only with tracing on: it loads temporalio.worker, which a
        # producer otherwise never needs. Workers made from this client inherit it.
        from temporalio.contrib.opentelemetry import TracingInterceptor

        interceptors.append(TracingInterceptor())
    try:
        return await Client.connect(
            connection.address,
            namespace=connection.namespace,
            data_converter=pydantic_data_converter,
            runtime=runtime,
            tls=tls,
            api_key=connection.api_key,
            interceptors=interceptors,
        )
    except RuntimeError as exc:  # the Rust core reports a failed connect as RuntimeError
        raise TemporalUnavailable(
            f"cannot connect to Temporal at {connection.address}: {exc}"
        ) from exc


class TemporalAdapter:
    """Starts, inspects and cancels job workflows (the dispatcher's ``TemporalEngine``).

    Each call gives up after ``timeout`` with :class:`TemporalUnavailable`: the
    client would otherwise retry an unreachable server for many seconds.
    """

    def __init__(
        self,
        client: Client,
        settings: QueueSettings,
        *,
        timeout: timedelta = timedelta(seconds=5),
        query_timeout: timedelta = timedelta(seconds=2),
    ) -> None:
        self.client = client
        self.settings = settings
        self.timeout = timeout
        self.query_timeout = query_timeout

    async def start(
        self, job: EngineJob, *, delay_s: float | None = None, rerun: bool = False
    ) -> None:
        """Start the workflow with id ``job.job_id``; a job started before is left alone.

        The workflow and its activities run at ``job.priority`` on their task queue.

        ``rerun`` (an operator's retry of a job that ended) lets a new run
        start after a closed one; a running one is still left alone.
        """
        try:
            await self._call(
                self.client.start_workflow(
                    WORKFLOW_NAME,
                    job,
                    id=job.job_id,
                    task_queue=self.settings.keys.task_queue(job.queue),
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    # A finished workflow of this id means the job already ran,
                    # unless this is a retry of it.
                    id_reuse_policy=(
                        WorkflowIDReusePolicy.ALLOW_DUPLICATE
                        if rerun
                        else WorkflowIDReusePolicy.REJECT_DUPLICATE
                    ),
                    start_delay=timedelta(seconds=delay_s) if delay_s else None,
                    memo={"name": job.name, "queue": job.queue},
                    static_summary=job.name,
                    # The task queue's priority (1 first .. 5 last); its
                    # activities inherit it.
                    priority=(
                        Priority(priority_key=job.priority)
                        if job.priority is not None
                        else Priority.default
                    ),
                    rpc_timeout=self.timeout,
                )
            )
        except WorkflowAlreadyStartedError:
            return
        except TemporalUnavailable:
            # A start that timed out may still have reached the server: a job
            # refused here must not run anyway.
            if await self._exists(job.job_id):
                logger.info("start of %s timed out, yet its workflow exists", job.job_id)
                return
            raise

    async def _exists(self, job_id: str) -> bool:
        """Whether workflow ``job_id`` exists; False when Temporal cannot say."""
        try:
            async with asyncio.timeout(self.query_timeout.total_seconds()):
                await self.client.get_workflow_handle(job_id).describe(
                    rpc_timeout=self.query_timeout
                )
        except (TimeoutError, RPCError, RuntimeError):
            return False
        return True

    async def describe(self, job_id: str) -> dict[str, Any] | None:
        """State, progress, result or error of ``job_id`` from Temporal; None if unknown."""
        return await self._call(
            describe_job(
                self.client.get_workflow_handle(job_id, result_type=JobOutcome),
                rpc_timeout=self.timeout,
                query_timeout=self.query_timeout,
            )
        )

    async def cancel(self, job_id: str) -> bool:
        """Ask the workflow to cancel; False when there is no running workflow ``job_id``."""
        return await self._call(self._cancel(job_id))

    async def _cancel(self, job_id: str) -> bool:
        handle = self.client.get_workflow_handle(job_id)
        try:
            # The server accepts a cancel of a closed workflow too: ask first.
            desc = await handle.describe(rpc_timeout=self.timeout)
            if desc.status != WorkflowExecutionStatus.RUNNING:
                return False
            await handle.cancel(rpc_timeout=self.timeout)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def healthy(self) -> bool:
        """Whether the frontend answers its gRPC health check within the call timeout."""
        try:
            return await self._call(self.client.service_client.check_health(timeout=self.timeout))
        except Exception:
            return False

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.timeout.total_seconds()):
                return await call
        except TimeoutError as exc:
            raise TemporalUnavailable(
                f"Temporal did not answer within {self.timeout.total_seconds()}s"
            ) from exc
        except RPCError as exc:
            if exc.status in _UNAVAILABLE:
                raise TemporalUnavailable(f"Temporal did not answer: {exc}") from exc
            raise
        except RuntimeError as exc:
            # A lazy client that never connected fails each call with this.
            if "connect" in str(exc):
                raise TemporalUnavailable(f"cannot reach Temporal: {exc}") from exc
            raise
