"""A Temporal worker for one jobrelay queue: the job workflow and its activities."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from jobrelay.job_engine import discover_jobs
from jobrelay.queue import JobStore, QueueSettings, get_queue
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxRestrictions

from ._code_cache import install_code_cache
from .activities import JobActivities
from .sandbox import JobSandboxRunner, register_job_modules, shared_framework_modules
from .workflow import JobWorkflow

# Libraries that job modules import and that are the same whoever imports
# them. Never job modules: the sandbox imports those afresh for each run so
# non-deterministic job code is caught, not hidden (sandbox.py shares the
# rest of jobrelay itself).
PASSTHROUGH_MODULES: tuple[str, ...] = (
    "redis",
    "httpx",
    "dramatiq",
    # Metrics are process-wide state: imported afresh they would register twice.
    "prometheus_client",
    # Settings classes in job modules (and their parser's helpers).
    "pydantic_settings",
    "dotenv",
    # The tracing interceptor's workflow side: the one tracer provider of the process.
    "opentelemetry",
    "typing_inspection",
)

# Heartbeats reach the server at least this often, so a cancelled step learns of it quickly.
HEARTBEAT_THROTTLE = timedelta(seconds=2)


def sandbox_restrictions() -> SandboxRestrictions:
    """Temporal's default restrictions; I/O libraries and jobrelay's framework shared.

    Call it after the job modules are registered (``make_worker`` does):
    the packages holding them must stay out of the shared set.
    """
    return SandboxRestrictions.default.with_passthrough_modules(
        *PASSTHROUGH_MODULES, *shared_framework_modules()
    )


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
    job's module and steps, and registers them for the workflow sandbox,
    which imports them afresh for each run. ``worker_options`` go to
    ``temporalio.worker.Worker`` and override the defaults set here.
    """
    spec = get_queue(queue)
    discover_jobs(job_modules)
    register_job_modules(job_modules)
    install_code_cache()
    options: dict[str, Any] = {
        "workflow_runner": JobSandboxRunner(restrictions=sandbox_restrictions()),
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
        activities=JobActivities(store, flow_lease_s=settings.flow_lease_s).all(),
        **options,
    )
