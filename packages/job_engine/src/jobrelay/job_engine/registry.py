from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

from .definition import FailureHook, JobDefinition, JobFunc, SuccessHook, build_definition
from .errors import JobDefinitionError, UnknownJob
from .flow import KeySource
from .schedules import Schedule

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
    schedules: Sequence[Schedule] = (),
    concurrency_limit: int | None = None,
    concurrency_key: KeySource | None = None,
    rate_limit: str | None = None,
    rate_key: KeySource | None = None,
    unique_for: timedelta | float | None = None,
    unique_key: KeySource | None = None,
) -> Callable[[F], F]:
    """Register an ``async def body(ctx, payload)`` as job ``name`` on ``queue``.

    ``payload`` is the pydantic model of the input (inferred from the second
    parameter's annotation when omitted). Retry and time-limit settings left
    as None take the queue's defaults. ``on_success(job_id, result)`` and
    ``on_failure(job_id, error)`` run once, as the job's last step.
    ``schedules`` fire the job on their own (each :class:`Schedule`'s payload
    is checked against the job's model now; ids are unique over all jobs).

    Flow control (README, Flow control), across both engines: at most
    ``concurrency_limit`` jobs with one ``concurrency_key`` run at once;
    ``rate_limit`` (``"100/m"``, ``/s``, ``/h``) spaces starts per
    ``rate_key``; a dispatch within ``unique_for`` of the first with the same
    ``unique_key`` is deduplicated to it. A key is a payload field name, a
    format string over the fields, or a function of the payload; without
    one, all jobs of the name share one key. Each is checked now.
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
            schedules=schedules,
            concurrency_limit=concurrency_limit,
            concurrency_key=concurrency_key,
            rate_limit=rate_limit,
            rate_key=rate_key,
            unique_for=unique_for,
            unique_key=unique_key,
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
        for schedule in definition.schedules:
            owner = next(
                (d.name for d in _jobs.values() if d.name != name and schedule.id in _ids(d)), None
            )
            if owner is not None:
                raise JobDefinitionError(
                    f"schedule id {schedule.id!r} of job {name!r} is taken by job {owner!r}"
                )
        _jobs[name] = definition
        return func

    return register


def _ids(definition: JobDefinition) -> set[str]:
    return {schedule.id for schedule in definition.schedules}


def get_job(name: str) -> JobDefinition:
    """The definition of job ``name``; :class:`UnknownJob` when none is registered."""
    try:
        return _jobs[name]
    except KeyError:
        raise UnknownJob(name, sorted(_jobs)) from None


def list_jobs() -> list[JobDefinition]:
    """Every registered job, sorted by name."""
    return [_jobs[n] for n in sorted(_jobs)]


def list_schedules() -> list[Schedule]:
    """The schedules declared in code (``@job(..., schedules=...)``), sorted by id."""
    return sorted((s for d in _jobs.values() for s in d.schedules), key=lambda s: s.id)


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
