"""Redis plumbing of jobrelay: connections, health, queues, job records, workers."""

from .async_redis import AsyncRedis
from .breaker import BreakerState, CircuitBreaker
from .calls import LuaScript, RedisCall
from .codec import dumps, loads
from .connection import check_redis_url, redis_client, unavailable_on_error
from .constants import ENGINE_DRAMATIQ, ENGINE_TEMPORAL, Keys
from .errors import (
    ConfigurationError,
    InvalidCursor,
    InvalidRedisURL,
    JobNotFound,
    JobRecordError,
    JobrelayError,
    QueueError,
    RedisUnavailable,
    ServiceUnavailable,
    UnknownQueue,
)
from .flow import EnterRequest, Entry, FlowCounts, FlowGate, LeaseKeeper, Slot, Verdict
from .health import RedisHealth
from .history import (
    AttemptEntry,
    HistoryView,
    JobHistory,
    StepEntry,
    StepStart,
    StepState,
    traceback_tail,
)
from .job_index import INDEX_LUA, JobFilter, JobIndex, JobPage
from .pauses import PauseState, QueuePauses
from .queues import QUEUES, QueueSpec, get_queue
from .records import (
    FINISHED_STATES,
    RETRYABLE_STATES,
    JobRecord,
    JobState,
    finished_lua,
    new_record_fields,
    retryable_lua,
)
from .registry import WorkerInfo, WorkerRegistry
from .settings import QueueSettings
from .store import ClaimedStart, JobStore

__all__ = [
    # Settings and connections
    "QueueSettings",
    "check_redis_url",
    "redis_client",
    "unavailable_on_error",
    "RedisCall",
    "LuaScript",
    "AsyncRedis",
    "Keys",
    "ENGINE_DRAMATIQ",
    "ENGINE_TEMPORAL",
    # Health
    "RedisHealth",
    "CircuitBreaker",
    "BreakerState",
    # Queues
    "QueueSpec",
    "QUEUES",
    "get_queue",
    "QueuePauses",
    "PauseState",
    # Records
    "JobStore",
    "ClaimedStart",
    "JobRecord",
    "new_record_fields",
    "JobState",
    "FINISHED_STATES",
    "finished_lua",
    "RETRYABLE_STATES",
    "retryable_lua",
    # Attempt and step logs (a job's detail)
    "JobHistory",
    "HistoryView",
    "AttemptEntry",
    "StepEntry",
    "StepState",
    "StepStart",
    "traceback_tail",
    "dumps",
    "loads",
    # The job index
    "JobIndex",
    "JobFilter",
    "JobPage",
    "INDEX_LUA",
    # Flow control
    "FlowGate",
    "LeaseKeeper",
    "Slot",
    "Entry",
    "EnterRequest",
    "Verdict",
    "FlowCounts",
    # Workers
    "WorkerRegistry",
    "WorkerInfo",
    # Errors
    "JobrelayError",
    "ServiceUnavailable",
    "QueueError",
    "ConfigurationError",
    "InvalidRedisURL",
    "InvalidCursor",
    "UnknownQueue",
    "RedisUnavailable",
    "JobRecordError",
    "JobNotFound",
]
