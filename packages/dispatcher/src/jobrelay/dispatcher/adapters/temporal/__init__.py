"""Temporal engine adapter: one workflow type runs any job's body; steps are activities.

``connect`` and ``TemporalAdapter`` are for the dispatcher; ``make_worker`` for
the worker app; ``JobWorkflow`` and ``JobInput`` for anyone starting workflows
by hand.
"""

import importlib as _importlib
import typing as _typing

from .client import TemporalAdapter, connect
from .errors import TemporalAdapterError, TemporalUnavailable
from .models import STATUS_QUERY, WORKFLOW_NAME, JobInput, JobOutcome, WorkflowStatus

if _typing.TYPE_CHECKING:
    from .activities import JobActivities
    from .worker import PASSTHROUGH_MODULES, make_worker, sandbox_restrictions
    from .workflow import JobWorkflow

# The worker side is imported on first use: it loads temporalio.worker and
# the sandbox, which a producer (a web app that only dispatches) never needs.
_LAZY = {
    "JobActivities": ".activities",
    "PASSTHROUGH_MODULES": ".worker",
    "make_worker": ".worker",
    "sandbox_restrictions": ".worker",
    "JobWorkflow": ".workflow",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
