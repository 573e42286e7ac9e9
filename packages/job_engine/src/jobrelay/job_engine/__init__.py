"""Engine-agnostic business logic: jobs are written once and run on Dramatiq or Temporal.

This package imports neither dramatiq nor temporalio, nor any other jobrelay package.
"""

from .base_context import BaseJobContext
from .context import JobContext
from .definition import JobDefinition
from .discovery import BUILTIN_JOBS_PACKAGE, discover_jobs
from .errors import (
    InvalidPayload,
    JobCancelled,
    JobDefinitionError,
    JobEngineError,
    JobrelayError,
    PermanentError,
    ServiceUnavailable,
    UnknownJob,
)
from .flow import (
    DEFAULT_PRIORITY,
    PRIORITY_NAMES,
    WHOLE_JOB_KEY,
    FlowControl,
    FlowKeys,
    KeySource,
    Rate,
    parse_rate,
    priority_key,
)
from .log_format import JsonLogFormatter, LogFormat, configure_logging
from .policy import RetryPolicy
from .registry import collect_jobs, get_job, job, list_jobs, list_schedules
from .runner import FAILURE_HOOK_STEP, SUCCESS_HOOK_STEP, execute, run_failure_hook
from .schedules import (
    SCHEDULE_ID_PATTERN,
    Catchup,
    Overlap,
    Schedule,
    schedule_of,
    scheduled_at_of,
    tick_job_id,
)
from .settings import JobEngineSettings
from .steps import call_step, resolve_step, step_ref, step_result_type

__all__ = [
    # Logging
    "configure_logging",
    "JsonLogFormatter",
    "LogFormat",
    # Declaring jobs
    "job",
    "JobDefinition",
    "RetryPolicy",
    "get_job",
    "list_jobs",
    "discover_jobs",
    "BUILTIN_JOBS_PACKAGE",
    # Schedules
    "Schedule",
    "Overlap",
    "Catchup",
    "list_schedules",
    "tick_job_id",
    "scheduled_at_of",
    "schedule_of",
    "SCHEDULE_ID_PATTERN",
    "JobEngineSettings",
    # Flow control
    "FlowControl",
    "FlowKeys",
    "KeySource",
    "Rate",
    "parse_rate",
    "priority_key",
    "PRIORITY_NAMES",
    "DEFAULT_PRIORITY",
    "WHOLE_JOB_KEY",
    # Writing job bodies
    "JobContext",
    "PermanentError",
    "JobCancelled",
    # For engine adapters
    "BaseJobContext",
    "collect_jobs",
    "execute",
    "run_failure_hook",
    "SUCCESS_HOOK_STEP",
    "FAILURE_HOOK_STEP",
    "step_ref",
    "resolve_step",
    "step_result_type",
    "call_step",
    # Errors
    "JobrelayError",
    "ServiceUnavailable",
    "JobEngineError",
    "JobDefinitionError",
    "UnknownJob",
    "InvalidPayload",
]
