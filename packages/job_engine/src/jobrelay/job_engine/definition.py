from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, get_type_hints

from pydantic import BaseModel, ValidationError

from .context import JobContext
from .errors import InvalidPayload, JobDefinitionError
from .flow import FlowControl, FlowKeys, build_flow
from .policy import RetryPolicy
from .schedules import Schedule

JobFunc = Callable[[JobContext, Any], Awaitable[Any]]
# Hooks run as the job's last step, so they get the same once-only guarantee.
SuccessHook = Callable[[str, Any], Any]
FailureHook = Callable[[str, str], Any]


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """A registered job: its name, queue, payload model and policies."""

    name: str
    queue: str
    func: JobFunc
    payload_model: type[BaseModel] | None
    result_type: Any
    retries: int | None = None
    min_backoff_s: float | None = None
    max_backoff_s: float | None = None
    time_limit_s: float | None = None
    on_success: SuccessHook | None = None
    on_failure: FailureHook | None = None
    schedules: tuple[Schedule, ...] = ()
    flow: FlowControl = field(default_factory=FlowControl)
    """Keyed concurrency, rate limit and uniqueness window (``jobrelay.job_engine.flow``)."""

    @property
    def ref(self) -> str:
        """``module:qualname`` of the job function."""
        return f"{self.func.__module__}:{self.func.__qualname__}"

    def parse_payload(self, data: Any) -> Any:
        """Validate ``data`` (a dict or the payload model) into what the body receives.

        Raises :class:`InvalidPayload` naming each field at fault.
        """
        if self.payload_model is None:
            if isinstance(data, BaseModel):
                return data.model_dump(mode="json")
            if not isinstance(data, dict):
                raise InvalidPayload(
                    self.name,
                    [{"loc": (), "msg": f"expected an object, got {type(data).__name__}"}],
                )
            return data
        if isinstance(data, self.payload_model):
            return data
        try:
            if isinstance(data, BaseModel):
                data = data.model_dump(mode="json")
            return self.payload_model.model_validate(data)
        except ValidationError as exc:
            raise InvalidPayload(
                self.name,
                [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()],
            ) from None

    def dump_payload(self, data: Any) -> dict[str, Any]:
        """The validated payload as a JSON-ready dict, the form both engines carry."""
        parsed = self.parse_payload(data)
        if isinstance(parsed, BaseModel):
            return parsed.model_dump(mode="json")
        return dict(parsed)

    def flow_keys(self, data: dict[str, Any]) -> FlowKeys:
        """The flow-control keys of a payload in its JSON form (``dump_payload``'s).

        Raises :class:`InvalidPayload` when the payload does not fit, or a key
        function fails on it.
        """
        flow = self.flow
        needs_model = any(
            key is not None and callable(key.source)
            for key in (flow.concurrency_key, flow.rate_key, flow.unique_key)
        )
        parsed = self.parse_payload(data) if needs_model else data
        return flow.keys(self.name, data, parsed)

    def retry_policy(self, default: RetryPolicy) -> RetryPolicy:
        """This job's policy: its own settings over the queue's ``default``."""
        policy = default
        if self.retries is not None:
            policy = replace(policy, max_attempts=self.retries + 1)
        if self.min_backoff_s is not None:
            policy = replace(policy, initial_backoff_s=self.min_backoff_s)
        if self.max_backoff_s is not None:
            policy = replace(policy, max_backoff_s=self.max_backoff_s)
        return policy


# The @job arguments build_flow checks.
_FLOW_OPTIONS = (
    "concurrency_limit",
    "concurrency_key",
    "rate_limit",
    "rate_key",
    "unique_for",
    "unique_key",
)


def build_definition(func: JobFunc, name: str, queue: str, **options: Any) -> JobDefinition:
    """Check ``func``'s shape and build its definition (used by :func:`job`)."""
    if not inspect.iscoroutinefunction(func):
        raise JobDefinitionError(f"job {name!r}: {func.__qualname__} must be an async def")
    params = list(inspect.signature(func).parameters.values())
    if len(params) != 2:
        raise JobDefinitionError(
            f"job {name!r}: {func.__qualname__} must take (ctx, payload), got {len(params)} params"
        )
    if "." in func.__qualname__:
        raise JobDefinitionError(f"job {name!r}: {func.__qualname__} must be module-level")
    try:
        hints = get_type_hints(func)
    except Exception as exc:  # an unresolved annotation is the author's mistake to see now
        raise JobDefinitionError(f"job {name!r}: cannot resolve annotations: {exc}") from exc
    payload_model = options.pop("payload", None)
    if payload_model is None:
        hinted = hints.get(params[1].name)
        if isinstance(hinted, type) and issubclass(hinted, BaseModel):
            payload_model = hinted
    if payload_model is not None and not (
        isinstance(payload_model, type) and issubclass(payload_model, BaseModel)
    ):
        raise JobDefinitionError(f"job {name!r}: payload must be a pydantic model class")
    retries = options.get("retries")
    if retries is not None and retries < 0:
        raise JobDefinitionError(f"job {name!r}: retries must be >= 0")
    schedules = tuple(options.pop("schedules", None) or ())
    flow = build_flow(
        f"job {name!r}",
        payload_model,
        **{key: options.pop(key, None) for key in _FLOW_OPTIONS},
    )
    definition = JobDefinition(
        name=name,
        queue=queue,
        func=func,
        payload_model=payload_model,
        result_type=hints.get("return", Any),
        flow=flow,
        **options,
    )
    return replace(definition, schedules=_own_schedules(definition, schedules))


def _own_schedules(definition: JobDefinition, schedules: tuple[Any, ...]) -> tuple[Schedule, ...]:
    """The job's schedules, each naming the job, with a payload the job accepts."""
    owned = []
    seen: set[str] = set()
    for schedule in schedules:
        where = f"job {definition.name!r}"
        if not isinstance(schedule, Schedule):
            raise JobDefinitionError(f"{where}: schedules must be Schedule objects")
        if schedule.job not in (None, definition.name):
            raise JobDefinitionError(
                f"{where}: schedule {schedule.id!r} names another job, {schedule.job!r}"
            )
        if schedule.id in seen:
            raise JobDefinitionError(f"{where}: schedule id {schedule.id!r} is used twice")
        seen.add(schedule.id)
        try:
            definition.parse_payload(schedule.payload)
        except InvalidPayload as exc:
            raise JobDefinitionError(
                f"{where}: schedule {schedule.id!r} has a payload the job refuses: {exc}"
            ) from None
        owned.append(schedule.model_copy(update={"job": definition.name}))
    return tuple(owned)
