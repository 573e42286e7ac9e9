from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from jobrelay.job_engine import JobCancelled, JobContext, JobDefinitionError, job
from jobrelay.job_engine.testing import LocalContext, run_local
from pydantic import BaseModel

calls: list[str] = []


class Empty(BaseModel):
    pass


def record(step: str) -> str:
    calls.append(step)
    return step


async def _twice(ctx: JobContext, data: Empty) -> None:
    await ctx.run("same", record, "a")
    await ctx.run("same", record, "b")


async def _two_steps(ctx: JobContext, data: Empty) -> None:
    await ctx.run("first", record, "first")
    await ctx.run("second", record, "second")


async def _sleepy(ctx: JobContext, data: Empty) -> None:
    await ctx.sleep("nap", timedelta(minutes=5))
    await ctx.sleep_until("until", datetime(2030, 1, 1, 1, tzinfo=UTC))


async def _lambda_step(ctx: JobContext, data: Empty) -> None:
    await ctx.run("anon", lambda: 1)


def _register(func: object) -> str:
    name = f"test.local.{uuid.uuid4().hex[:8]}"
    job(name)(func)  # type: ignore[type-var]
    return name


async def test_a_step_id_may_not_repeat() -> None:
    with pytest.raises(JobDefinitionError, match="used twice"):
        await run_local(_register(_twice), {})


async def test_cancel_stops_before_the_next_step() -> None:
    calls.clear()
    ctx = LocalContext()
    ctx.cancel_requested = True
    with pytest.raises(JobCancelled):
        await run_local(_register(_two_steps), {}, ctx)
    assert calls == []


async def test_sleeps_advance_a_virtual_clock() -> None:
    ctx = LocalContext(now=datetime(2030, 1, 1, tzinfo=UTC))
    await run_local(_register(_sleepy), {}, ctx)
    assert ctx.sleeps == [("nap", 300.0), ("until", 3300.0)]
    assert ctx.now == datetime(2030, 1, 1, 1, tzinfo=UTC)


async def test_steps_must_be_module_level() -> None:
    with pytest.raises(JobDefinitionError, match="module-level"):
        await run_local(_register(_lambda_step), {})
