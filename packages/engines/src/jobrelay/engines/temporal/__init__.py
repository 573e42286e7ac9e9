"""Jobs on Temporal, the producer side: connecting, starting, describing and cancelling.

One workflow type runs any job's body and each step is an activity; the
worker that runs them is ``jobrelay.engines.temporal.worker``, which a
producer never imports (it loads ``temporalio.worker`` and the sandbox).
"""

from .client import TemporalAdapter, connect
from .connection import TemporalConnection, TemporalTLS
from .errors import TemporalAdapterError, TemporalConfigurationError, TemporalUnavailable
from .models import RUN_ID_FIELD, STATUS_QUERY, WORKFLOW_NAME, JobOutcome, WorkflowStatus

__all__ = [
    # Producer side
    "connect",
    "TemporalConnection",
    "TemporalTLS",
    "TemporalAdapter",
    # What crosses to the workflow
    "JobOutcome",
    "WorkflowStatus",
    "WORKFLOW_NAME",
    "STATUS_QUERY",
    "RUN_ID_FIELD",
    # Errors
    "TemporalAdapterError",
    "TemporalConfigurationError",
    "TemporalUnavailable",
]
