from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .definition import FailureHook, JobDefinition, JobFunc, SuccessHook, build_definition
from .errors import JobDefinitionError, UnknownJob

F = TypeVar("F", bound=JobFunc)

_jobs: dict[str, JobDefinition] = {}


def job(
    name: str,
    *,
    queue: str = "default",
    payload: type | None = None,
    retries: int | None = None,
    min_backoff_s: float | None = None,
    max_backoff_s: float | None = None,
    time_limit_s: float | None = None,
    on_success: SuccessHook | None = None,
    on_failure: FailureHook | None = None,
) -> Callable[[F], F]:
    """Register an ``async def body(ctx, payload)`` as job ``name`` on ``queue``.

    ``payload`` is the pydantic model of the input (inferred from the second
    parameter's annotation when omitted). Retry and time-limit settings left
    as None take the queue's defaults. ``on_success(job_id, result)`` and
    ``on_failure(job_id, error)`` run once, as the job's last step.
    """

    def register(func: F) -> F:
        definition = build_definition(
            func,
            name,
            queue,
            payload=payload,
            retries=retries,
            min_backoff_s=min_backoff_s,
            max_backoff_s=max_backoff_s,
            time_limit_s=time_limit_s,
            on_success=on_success,
            on_failure=on_failure,
        )
        existing = _jobs.get(name)
        if existing is not None and existing.ref != definition.ref:
            raise JobDefinitionError(
                f"job name {name!r} is taken by {existing.ref}; cannot register {definition.ref}"
            )
        _jobs[name] = definition
        return func

    return register


def get_job(name: str) -> JobDefinition:
    """The definition of job ``name``; :class:`UnknownJob` when none is registered."""
    try:
        return _jobs[name]
    except KeyError:
        raise UnknownJob(name, sorted(_jobs)) from None


def list_jobs() -> list[JobDefinition]:
    """Every registered job, sorted by name."""
    return [_jobs[n] for n in sorted(_jobs)]
