"""Dispatch jobs to Dramatiq, falling back to Temporal; job status and cancel on both."""

from jobrelay.job_engine import InvalidPayload, UnknownJob

from .api import cancel_job, dispatch_job, get_job_status
from .defaults import build_dispatcher, set_default_dispatcher
from .dispatcher import Dispatcher
from .errors import (
    DispatchConfigurationError,
    DispatcherError,
    DispatchProxyError,
    DispatchUnavailable,
    EngineUnavailable,
    JobNotFound,
    PayloadTooLarge,
    StatusUnavailable,
)
from .live_workers import LiveWorkers
from .models import DispatchReceipt, JobStatus, Reason
from .proxy import DispatchProxy
from .reconciler import Reconciler, ReconcileReport
from .settings import DispatcherSettings
from .sync import cancel_job_sync, dispatch_job_sync, get_job_status_sync
from .temporal_link import TemporalLink

__all__ = [
    # Dispatching
    "dispatch_job",
    "get_job_status",
    "cancel_job",
    "dispatch_job_sync",
    "get_job_status_sync",
    "cancel_job_sync",
    "DispatchReceipt",
    "JobStatus",
    "Reason",
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
    "DispatcherError",
    "DispatchConfigurationError",
    "PayloadTooLarge",
    "JobNotFound",
    "DispatchProxyError",
    "EngineUnavailable",
    "DispatchUnavailable",
    "StatusUnavailable",
    "UnknownJob",
    "InvalidPayload",
]
