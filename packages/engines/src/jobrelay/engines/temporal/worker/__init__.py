"""Jobs on Temporal, the worker side: the job workflow, its activities, the sandbox."""

from .activities import JobActivities
from .factory import PASSTHROUGH_MODULES, make_worker, sandbox_restrictions
from .workflow import JobWorkflow

__all__ = [
    "make_worker",
    "sandbox_restrictions",
    "PASSTHROUGH_MODULES",
    "JobActivities",
    "JobWorkflow",
]
