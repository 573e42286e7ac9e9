from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from .definition import FailureHook, JobDefinition, JobFunc, SuccessHook, build_definition
from .errors import JobDefinitionError, UnknownJob

F = TypeVar("F", bound=JobFunc)

_jobs: dict[str, JobDefinition] = {}
# Set by collect_jobs on the thread that imports job modules again in isolation.
_collecting = threading.local()


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
        collected: dict[str, JobDefinition] | None = getattr(_collecting, "jobs", None)
        if collected is not None:
            collected[name] = definition
            return func
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


@contextmanager
def collect_jobs() -> Iterator[dict[str, JobDefinition]]:
    """Gather the ``@job`` declarations run in this block, on this thread, apart.

    For engine adapters that import job modules a second time in isolation
    (Temporal's workflow sandbox does, for each run): those copies fill the
    yielded dict and leave the process registry as it was.
    """
    found: dict[str, JobDefinition] = {}
    previous = getattr(_collecting, "jobs", None)
    _collecting.jobs = found
    try:
        yield found
    finally:
        _collecting.jobs = previous
