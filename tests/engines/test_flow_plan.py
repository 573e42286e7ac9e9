"""A job's start conditions as both engines build them from its declaration."""

from __future__ import annotations

import uuid

import pytest
from jobrelay.engines.flow import RATE_MARGIN_S, FlowPlan
from jobrelay.job_engine import JobContext, get_job, job
from pydantic import BaseModel


class Mail(BaseModel):
    to: str


async def _send(ctx: JobContext, data: Mail) -> None:
    return None


@pytest.mark.parametrize(
    ("rate", "count", "per_s"), [("10/s", 10, 1), ("100/m", 100, 60), ("3/h", 3, 3600)]
)
def test_count_plus_one_turns_never_fit_in_one_period_plus_the_margin(
    rate: str, count: int, per_s: float
) -> None:
    name = f"test.plan.{uuid.uuid4().hex[:8]}"
    job(name, rate_limit=rate, rate_key="to")(_send)
    plan = FlowPlan.of(get_job(name), {"to": "a@example.com"})
    assert plan is not None and plan.rate_key == "a@example.com"
    assert plan.interval_s is not None
    # Turns are taken interval_s apart: count + 1 of them span count intervals.
    assert count * plan.interval_s == pytest.approx(per_s + RATE_MARGIN_S)
    assert plan.limit is None and plan.concurrency_key is None


def test_a_job_without_limits_has_no_plan() -> None:
    name = f"test.plan.{uuid.uuid4().hex[:8]}"
    job(name)(_send)
    assert FlowPlan.of(get_job(name), {"to": "a@example.com"}) is None
