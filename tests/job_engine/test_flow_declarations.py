"""Flow control on @job: declarations checked at import, keys read from payloads."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from jobrelay.job_engine import (
    InvalidPayload,
    JobContext,
    JobDefinitionError,
    get_job,
    job,
    parse_rate,
    priority_key,
)
from pydantic import BaseModel


class Sync(BaseModel):
    calendar_id: str
    tenant: str = "t1"
    attempt: int = 0


def _name() -> str:
    return f"test.flow.{uuid.uuid4().hex[:8]}"


async def _body(ctx: JobContext, data: Sync) -> None:
    return None


async def _untyped(ctx: JobContext, data: dict) -> None:  # type: ignore[type-arg]
    return None


def _by_tenant(data: Sync) -> str:
    return data.tenant.upper()


def test_declared_limits_and_the_keys_of_a_payload() -> None:
    name = _name()
    job(
        name,
        concurrency_limit=2,
        concurrency_key="calendar_id",
        rate_limit="100/m",
        rate_key="{tenant}:{calendar_id}",
        unique_for=timedelta(hours=1),
        unique_key=_by_tenant,
    )(_body)
    definition = get_job(name)
    flow = definition.flow
    assert flow.concurrency_limit == 2 and flow.rate is not None
    assert flow.rate.interval_s == pytest.approx(0.6)
    assert flow.unique_for_s == 3600
    keys = definition.flow_keys({"calendar_id": "c7", "tenant": "acme"})
    assert keys == ("c7", "acme:c7", "ACME")
    assert flow.describe() == {
        "concurrency_limit": 2,
        "concurrency_key": "calendar_id",
        "rate_limit": "100/m",
        "rate_key": "{tenant}:{calendar_id}",
        "unique_for_s": 3600.0,
        "unique_key": "_by_tenant()",
    }


def test_without_keys_a_job_name_is_one_key_and_the_payload_its_uniqueness() -> None:
    name = _name()
    job(name, concurrency_limit=1, rate_limit="5/s", unique_for=30)(_body)
    definition = get_job(name)
    one = definition.flow_keys({"calendar_id": "a"})
    assert one.concurrency == one.rate == "*"
    assert one.unique == definition.flow_keys({"calendar_id": "a"}).unique
    assert one.unique != definition.flow_keys({"calendar_id": "b"}).unique
    assert get_job(name).flow.limits_starts


def test_a_job_without_flow_control_declares_none() -> None:
    name = _name()
    job(name)(_body)
    flow = get_job(name).flow
    assert not flow.declared and not flow.limits_starts
    assert get_job(name).flow_keys({"calendar_id": "a"}) == (None, None, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_limit": "100/x"}, r"rate_limit must look like '100/m'.*'100/x'"),
        ({"rate_limit": "0/s"}, r"rate_limit must allow at least 1"),
        ({"rate_limit": 100}, r"rate_limit must look like"),
        ({"concurrency_limit": 0}, r"concurrency_limit must be a positive integer, got 0"),
        ({"concurrency_limit": True}, r"concurrency_limit must be a positive integer"),
        (
            {"concurrency_limit": 1, "concurrency_key": "calendar"},
            r"concurrency_key 'calendar' names field 'calendar', which payload Sync lacks",
        ),
        (
            {"rate_limit": "1/s", "rate_key": "{tenant}:{user}"},
            r"rate_key '\{tenant\}:\{user\}' names field 'user', which payload Sync lacks",
        ),
        ({"rate_limit": "1/s", "rate_key": "{}"}, r"rate_key '\{\}' must name payload fields"),
        ({"concurrency_limit": 1, "concurrency_key": "not a field"}, r"neither a field name"),
        ({"concurrency_key": "calendar_id"}, r"concurrency_key needs a concurrency_limit"),
        ({"rate_key": "calendar_id"}, r"rate_key needs a rate_limit"),
        ({"unique_key": "calendar_id"}, r"unique_key needs a unique_for"),
        ({"unique_for": timedelta(0)}, r"unique_for must be a positive timedelta"),
        ({"unique_for": "1h"}, r"unique_for must be a positive timedelta"),
        ({"unique_for": 60, "unique_key": 5}, r"unique_key must be a payload field name"),
    ],
)
def test_bad_declarations_fail_at_import_naming_the_problem(
    options: dict[str, object], message: str
) -> None:
    name = _name()
    with pytest.raises(JobDefinitionError, match=message) as caught:
        job(name, **options)(_body)  # type: ignore[arg-type]
    assert name in str(caught.value)
    with pytest.raises(LookupError):
        get_job(name)


def test_a_payload_without_a_model_takes_any_field_name() -> None:
    name = _name()
    job(name, concurrency_limit=1, concurrency_key="{account}")(_untyped)
    assert get_job(name).flow_keys({"account": 42}).concurrency == "42"


def test_a_key_that_cannot_be_read_makes_the_payload_invalid() -> None:
    name = _name()
    job(name, concurrency_limit=1, concurrency_key="{account}")(_untyped)
    with pytest.raises(InvalidPayload, match="concurrency_key"):
        get_job(name).flow_keys({"other": 1})


def test_a_long_key_is_hashed() -> None:
    name = _name()
    job(name, concurrency_limit=1, concurrency_key="calendar_id")(_body)
    key = get_job(name).flow_keys({"calendar_id": "x" * 500}).concurrency
    assert key is not None and key.startswith("sha1:") and len(key) < 50


def test_rates_and_priorities_parse_as_documented() -> None:
    assert parse_rate("10/s").interval_s == pytest.approx(0.1)
    assert parse_rate(" 3 / h ").interval_s == pytest.approx(1200)
    assert [priority_key(p) for p in ("high", "normal", "low", None, 2, "4")] == [1, 3, 5, 3, 2, 4]
    for bad in ("urgent", 0, 6, True, 2.5):
        with pytest.raises(ValueError, match="high, normal, low or an integer"):
            priority_key(bad)  # type: ignore[arg-type]
