"""Retry policy and timeouts of step activities, from the job and its queue."""

from __future__ import annotations

from datetime import timedelta

from jobrelay.job_engine import JobDefinition, RetryPolicy
from jobrelay.queue import QueueSpec, get_queue
from temporalio import common

from ..models import CANCELLED_ERROR, DEFINITION_ERROR, PERMANENT_ERROR

# A step's activity must heartbeat this often (the adapter does it every
# second for the step), so a dead worker's step is retried elsewhere long
# before its time limit. The chaos run showed 30 s left every step of a killed
# worker waiting half a minute, which a burst of kills turns into a backlog.
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
NON_RETRYABLE = [PERMANENT_ERROR, CANCELLED_ERROR, DEFINITION_ERROR]


def queue_default_policy(spec: QueueSpec) -> RetryPolicy:
    """The retry policy of jobs on ``spec`` that set none of their own."""
    return RetryPolicy(
        max_attempts=spec.max_retries + 1,
        initial_backoff_s=spec.min_backoff_s,
        max_backoff_s=spec.max_backoff_s,
    )


def step_retry_policy(definition: JobDefinition) -> common.RetryPolicy:
    """The job's retry policy in Temporal's terms: same attempts and backoff as Dramatiq."""
    policy = definition.retry_policy(queue_default_policy(get_queue(definition.queue)))
    initial = timedelta(seconds=policy.initial_backoff_s)
    return common.RetryPolicy(
        initial_interval=initial,
        backoff_coefficient=policy.backoff_coefficient,
        # Temporal rejects a maximum below the initial interval.
        maximum_interval=max(initial, timedelta(seconds=policy.max_backoff_s)),
        maximum_attempts=policy.max_attempts,
        non_retryable_error_types=NON_RETRYABLE,
    )


def step_time_limit(definition: JobDefinition) -> timedelta:
    """How long one attempt of a step may run: the job's limit, else its queue's."""
    limit = definition.time_limit_s or get_queue(definition.queue).time_limit_s
    return timedelta(seconds=limit)


def heartbeat_timeout(definition: JobDefinition) -> timedelta:
    """Heartbeat timeout of a step; never longer than the step may run."""
    return min(HEARTBEAT_TIMEOUT, step_time_limit(definition))
