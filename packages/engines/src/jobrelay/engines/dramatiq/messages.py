"""What a jobrelay message carries: the job as its arguments, and its retry/time-limit options."""

from __future__ import annotations

from typing import Any

from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.common import q_name
from jobrelay.job_engine import JobDefinition, RetryPolicy
from jobrelay.queue import QueueSpec
from pydantic import ValidationError

from ..job import EngineJob

ACTOR_PREFIX = "jobrelay."

# Options a parked (sleeping) message must not carry back to its queue: the
# broker adds fresh ones on enqueue and a stale traceback would only mislead.
_TRANSIENT_OPTIONS = frozenset({"redis_message_id", "eta", "traceback", "requeue_timestamp"})


def actor_name(queue: str) -> str:
    """The one actor that runs every job of ``queue``."""
    return f"{ACTOR_PREFIX}{queue}"


def message_args(job: EngineJob) -> tuple[str, str, dict[str, Any]]:
    """The actor arguments that carry ``job``: ``(job_id, name, payload)``, all JSON.

    The queue is the message's own; ``claim_first`` concerns Temporal runs only.
    """
    return (job.job_id, job.name, job.payload)


def job_of_message(args: tuple[Any, ...], kwargs: dict[str, Any], queue: str) -> EngineJob:
    """The job a message on ``queue`` carries; ``ValueError`` says what is wrong with it."""
    if kwargs or len(args) != 3:
        raise ValueError(
            f"expected args (job_id, name, payload), got {len(args)} args"
            f" and kwargs {sorted(kwargs)}"
        )
    try:
        return EngineJob(job_id=args[0], name=args[1], queue=queue, payload=args[2])
    except ValidationError as exc:
        raise ValueError(f"bad job message arguments: {exc}") from None


def queue_policy(spec: QueueSpec) -> RetryPolicy:
    """The retry policy of jobs on ``spec`` that set none of their own."""
    return RetryPolicy(
        max_attempts=spec.max_retries + 1,
        initial_backoff_s=spec.min_backoff_s,
        max_backoff_s=spec.max_backoff_s,
    )


def policy_options(policy: RetryPolicy, time_limit_s: float) -> dict[str, Any]:
    """Dramatiq's Retries/TimeLimit option names for a policy (milliseconds)."""
    return {
        "max_retries": policy.max_attempts - 1,
        "min_backoff": max(1, round(policy.initial_backoff_s * 1000)),
        "max_backoff": max(1, round(policy.max_backoff_s * 1000)),
        "time_limit": max(1, round(time_limit_s * 1000)),
    }


def message_options(definition: JobDefinition, spec: QueueSpec) -> dict[str, Any]:
    """Per-job options: the job's own policy and time limit over the queue's."""
    time_limit = (
        definition.time_limit_s if definition.time_limit_s is not None else spec.time_limit_s
    )
    return policy_options(definition.retry_policy(queue_policy(spec)), time_limit)


def policy_from_options(options: dict[str, Any], defaults: dict[str, Any]) -> RetryPolicy:
    """The policy a message runs under, read the way dramatiq's Retries reads it
    (message option, else actor option) so both agree on the last attempt."""

    def pick(name: str) -> float:
        return float(options.get(name, defaults[name]))

    return RetryPolicy(
        max_attempts=int(pick("max_retries")) + 1,
        initial_backoff_s=pick("min_backoff") / 1000,
        max_backoff_s=pick("max_backoff") / 1000,
    )


def attempt_of(options: dict[str, Any]) -> int:
    """1-based attempt number: dramatiq's Retries counts failures in ``retries``."""
    return int(options.get("retries", 0)) + 1


def parked_copy(message: MessageProxy | Message[Any]) -> Message[Any]:
    """A clean copy of ``message`` to send again when a sleep is over.

    It keeps the message id and the retry count, so a sleep costs no attempt.
    """
    options = {k: v for k, v in message.options.items() if k not in _TRANSIENT_OPTIONS}
    return Message(
        queue_name=q_name(message.queue_name),  # the delay queue's (.DQ) own queue
        actor_name=message.actor_name,
        args=tuple(message.args),
        kwargs=dict(message.kwargs),
        options=options,
        message_id=message.message_id,
        message_timestamp=message.message_timestamp,
    )
