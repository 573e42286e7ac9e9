"""Dispatch jobs to Dramatiq, falling back to Temporal; job status and cancel on both."""

import importlib as _importlib
import typing as _typing

from jobrelay.job_engine import InvalidPayload, JobrelayError, ServiceUnavailable, UnknownJob

from .bulk import BulkOutcome
from .errors import (
    DispatchConfigurationError,
    DispatcherError,
    DispatchProxyError,
    DispatchUnavailable,
    EngineUnavailable,
    IndexUnavailable,
    InvalidCursor,
    InvalidDispatch,
    InvalidQuery,
    JobNotFound,
    JobNotRemovable,
    JobNotRetryable,
    PayloadTooLarge,
    StatusUnavailable,
)
from .listing import MAX_PAGE, JobList, job_filter
from .live_workers import LiveWorkers
from .models import (
    MAX_DELAY_S,
    BatchResult,
    DispatchReceipt,
    FlowLimits,
    JobAttempt,
    JobDetail,
    JobFlow,
    JobRequest,
    JobStatus,
    JobStep,
    Reason,
    TemporalRun,
)
from .settings import DispatcherSettings

if _typing.TYPE_CHECKING:
    from .api import cancel_job, dispatch_job, dispatch_many, get_job_detail, get_job_status
    from .defaults import build_dispatcher, set_default_dispatcher
    from .dispatcher import Dispatcher
    from .proxy import DispatchProxy
    from .reconciler import Reconciler, ReconcileReport
    from .sync import (
        cancel_job_sync,
        dispatch_job_sync,
        dispatch_many_sync,
        get_job_detail_sync,
        get_job_status_sync,
    )
    from .temporal_link import TemporalLink

# Imported on first use: they pull in the Temporal SDK and the HTTP client,
# which a Dramatiq worker process (it imports the Dramatiq adapter, below
# this package) never needs; it starts faster and smaller without them.
_LAZY = {
    "cancel_job": ".api",
    "dispatch_job": ".api",
    "dispatch_many": ".api",
    "get_job_status": ".api",
    "get_job_detail": ".api",
    "build_dispatcher": ".defaults",
    "set_default_dispatcher": ".defaults",
    "Dispatcher": ".dispatcher",
    "DispatchProxy": ".proxy",
    "Reconciler": ".reconciler",
    "ReconcileReport": ".reconciler",
    "cancel_job_sync": ".sync",
    "dispatch_job_sync": ".sync",
    "dispatch_many_sync": ".sync",
    "get_job_status_sync": ".sync",
    "get_job_detail_sync": ".sync",
    "TemporalLink": ".temporal_link",
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
    # Dispatching
    "dispatch_job",
    "get_job_status",
    "get_job_detail",
    "cancel_job",
    "dispatch_job_sync",
    "get_job_status_sync",
    "get_job_detail_sync",
    "cancel_job_sync",
    "dispatch_many",
    "dispatch_many_sync",
    "JobRequest",
    "BatchResult",
    "DispatchReceipt",
    "JobStatus",
    "JobDetail",
    "FlowLimits",
    "JobFlow",
    "JobAttempt",
    "JobStep",
    "TemporalRun",
    "Reason",
    "MAX_DELAY_S",
    # The operator's job list and bulk actions
    "JobList",
    "job_filter",
    "MAX_PAGE",
    "BulkOutcome",
    # Building a dispatcher
    "Dispatcher",
    "DispatcherSettings",
    "DispatchProxy",
    "LiveWorkers",
    "TemporalLink",
    "build_dispatcher",
    "set_default_dispatcher",
    # Pickup deadline enforcement
    "Reconciler",
    "ReconcileReport",
    # Errors
    "JobrelayError",
    "ServiceUnavailable",
    "DispatcherError",
    "DispatchConfigurationError",
    "PayloadTooLarge",
    "InvalidDispatch",
    "JobNotFound",
    "JobNotRetryable",
    "JobNotRemovable",
    "InvalidQuery",
    "InvalidCursor",
    "IndexUnavailable",
    "DispatchProxyError",
    "EngineUnavailable",
    "DispatchUnavailable",
    "StatusUnavailable",
    "UnknownJob",
    "InvalidPayload",
]
