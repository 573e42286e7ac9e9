"""Temporal engine adapter: one workflow type runs any job's body; steps are activities.

``connect`` and ``TemporalAdapter`` are for the dispatcher; ``make_worker`` for
the worker app; ``JobWorkflow`` and ``JobInput`` for anyone starting workflows
by hand.
"""

from .activities import JobActivities
from .client import TemporalAdapter, connect
from .errors import TemporalAdapterError, TemporalUnavailable
from .models import STATUS_QUERY, WORKFLOW_NAME, JobInput, JobOutcome, WorkflowStatus
from .worker import PASSTHROUGH_MODULES, make_worker, sandbox_restrictions
from .workflow import JobWorkflow

__all__ = [
    # Dispatcher side
    "connect",
    "TemporalAdapter",
    # Worker side
    "make_worker",
    "sandbox_restrictions",
    "PASSTHROUGH_MODULES",
    "JobActivities",
    # Workflow
    "JobWorkflow",
    "JobInput",
    "JobOutcome",
    "WorkflowStatus",
    "WORKFLOW_NAME",
    "STATUS_QUERY",
    # Errors
    "TemporalAdapterError",
    "TemporalUnavailable",
]
