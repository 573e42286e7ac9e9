from __future__ import annotations

import uuid
from typing import Any

import pytest
from jobrelay.job_engine import (
    InvalidPayload,
    JobContext,
    JobDefinitionError,
    RetryPolicy,
    UnknownJob,
    collect_jobs,
    get_job,
    job,
    list_jobs,
)
from pydantic import BaseModel, Field


class Order(BaseModel):
    order_id: str
    quantity: int = Field(ge=1)


def _name() -> str:
    return f"test.registry.{uuid.uuid4().hex[:8]}"


async def _body(ctx: JobContext, data: Order) -> int:
    return data.quantity


def test_registers_with_inferred_payload_and_policy() -> None:
    name = _name()
    job(name, queue="data_sync", retries=2, min_backoff_s=0.5, time_limit_s=30)(_body)

    definition = get_job(name)
    assert definition.queue == "data_sync"
    assert definition.payload_model is Order
    assert definition.result_type is int
    assert definition.time_limit_s == 30
    policy = definition.retry_policy(RetryPolicy(max_attempts=6, max_backoff_s=9))
    assert policy == RetryPolicy(max_attempts=3, initial_backoff_s=0.5, max_backoff_s=9)
    assert definition in list_jobs()


def test_sync_function_is_refused() -> None:
    def body(ctx: JobContext, data: Order) -> None: ...

    with pytest.raises(JobDefinitionError, match="async def"):
        job(_name())(body)  # type: ignore[type-var]


def test_wrong_parameters_are_refused() -> None:
    async def body(ctx: JobContext) -> None: ...

    with pytest.raises(JobDefinitionError, match=r"\(ctx, payload\)"):
        job(_name())(body)  # type: ignore[type-var]


def test_nested_function_is_refused() -> None:
    async def body(ctx: JobContext, data: Order) -> None: ...

    with pytest.raises(JobDefinitionError, match="module-level"):
        job(_name())(body)


def test_payload_must_be_a_model() -> None:
    with pytest.raises(JobDefinitionError, match="pydantic model"):
        job(_name(), payload=dict)(_body)


def test_negative_retries_are_refused() -> None:
    with pytest.raises(JobDefinitionError, match="retries"):
        job(_name(), retries=-1)(_body)


async def _other_body(ctx: JobContext, data: Order) -> int:
    return 0


def test_a_name_belongs_to_one_function() -> None:
    name = _name()
    job(name)(_body)
    job(name)(_body)  # re-registering the same function (a re-import) is fine
    with pytest.raises(JobDefinitionError, match="is taken by"):
        job(name)(_other_body)


def test_unknown_job_is_a_clear_error() -> None:
    with pytest.raises(UnknownJob, match=r"unknown job 'no\.such\.job'; known jobs: .*booking"):
        get_job("no.such.job")


def test_invalid_payload_names_each_field() -> None:
    name = _name()
    job(name)(_body)
    definition = get_job(name)
    with pytest.raises(InvalidPayload) as info:
        definition.parse_payload({"quantity": 0})
    message = str(info.value)
    assert "order_id: Field required" in message
    assert "quantity: Input should be greater than or equal to 1" in message
    assert {e["loc"] for e in info.value.errors} == {("order_id",), ("quantity",)}


def test_payload_round_trips_as_json_ready_dict() -> None:
    name = _name()
    job(name)(_body)
    definition = get_job(name)
    dumped: dict[str, Any] = definition.dump_payload(Order(order_id="o1", quantity=2))
    assert dumped == {"order_id": "o1", "quantity": 2}
    assert definition.parse_payload(dumped) == Order(order_id="o1", quantity=2)


def test_builtin_jobs_live_under_their_queue() -> None:
    by_name = {d.name: d for d in list_jobs()}
    for name, queue in [
        ("booking.send_confirmation", "default"),
        ("calendar.sync", "data_sync"),
        ("booking.send_reminder", "scheduled"),
    ]:
        definition = by_name[name]
        assert definition.queue == queue
        assert definition.func.__module__.startswith(f"jobrelay.job_engine.jobs.{queue}.")


def test_collect_jobs_gathers_declarations_apart_from_the_registry() -> None:
    name = _name()
    with collect_jobs() as found:
        job(name)(_body)
    assert list(found) == [name]
    assert found[name].func is _body
    with pytest.raises(UnknownJob):
        get_job(name)
    # Outside the block, @job registers in the process registry again.
    job(name)(_body)
    assert get_job(name).func is _body
