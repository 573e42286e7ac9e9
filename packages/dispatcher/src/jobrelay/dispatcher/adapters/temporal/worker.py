"""A Temporal worker for one jobrelay queue: the job workflow and its activities."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from jobrelay.job_engine import discover_jobs
from jobrelay.queue import JobStore, QueueSettings, get_queue
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from .activities import JobActivities
from .workflow import JobWorkflow

# I/O libraries only. Never job modules or jobrelay.job_engine: the sandbox must
# import those afresh so non-deterministic job code is caught, not hidden.
PASSTHROUGH_MODULES: tuple[str, ...] = (
    "jobrelay.queue",
    "redis",
    "httpx",
    "dramatiq",
    # Metrics are process-wide state: imported afresh they would register twice.
    "prometheus_client",
    "jobrelay.dispatcher.metrics",
)

# Heartbeats reach the server at least this often, so a cancelled step learns of it quickly.
HEARTBEAT_THROTTLE = timedelta(seconds=2)


def sandbox_restrictions() -> SandboxRestrictions:
    """Temporal's default restrictions plus the passthrough of jobrelay's I/O libraries."""
    return SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)


def make_worker(
    client: Client,
    settings: QueueSettings,
    queue: str,
    *,
    store: JobStore | None,
    job_modules: Sequence[str] = (),
    **worker_options: Any,
) -> Worker:
    """A worker polling ``queue``'s task queue; ``store`` None means no Redis record.

    Imports the built-in jobs and ``job_modules`` so the activities find every
    job's module and steps. ``worker_options`` go to ``temporalio.worker.Worker``
    and override the defaults set here.
    """
    spec = get_queue(queue)
    discover_jobs(job_modules)
    options: dict[str, Any] = {
        "workflow_runner": SandboxedWorkflowRunner(restrictions=sandbox_restrictions()),
        "workflow_failure_exception_types": [Exception],
        "max_concurrent_activities": spec.concurrency,
        "max_heartbeat_throttle_interval": HEARTBEAT_THROTTLE,
        "default_heartbeat_throttle_interval": HEARTBEAT_THROTTLE,
    }
    options.update(worker_options)
    return Worker(
        client,
        task_queue=settings.keys.task_queue(queue),
        workflows=[JobWorkflow],
        activities=JobActivities(store).all(),
        **options,
    )
