"""Jobs for the dispatcher tests.

Each run of a job's step appends the engine that ran it to the Redis list
``dsp:{job_id}:runs`` on ``DSP_REDIS_URL`` (the session Redis, which the tests
never stop), so a test counts executions per job and sees where each ran.
"""

from __future__ import annotations

import os

import redis
from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel, Field


class Ping(BaseModel):
    n: int = 0
    note: str = ""


class Order(BaseModel):
    order_id: int
    email: str = Field(min_length=3)


def runs_key(job_id: str) -> str:
    return f"dsp:{job_id}:runs"


def record_run(job_id: str, engine: str) -> int:
    """The side effect: one more entry in the job's run list."""
    with redis.Redis.from_url(os.environ["DSP_REDIS_URL"]) as client:
        return int(client.rpush(runs_key(job_id), engine))


@job("dsp.ping", queue="default", payload=Ping, retries=2, min_backoff_s=0.1, max_backoff_s=0.5)
async def ping(ctx: JobContext, data: Ping) -> dict[str, int]:
    runs = await ctx.run("run", record_run, ctx.job_id, ctx.engine)
    return {"n": data.n, "runs": runs}


@job("dsp.order", queue="default", payload=Order)
async def order(ctx: JobContext, data: Order) -> int:
    return await ctx.run("run", record_run, ctx.job_id, ctx.engine)


class Nap(BaseModel):
    seconds: float


def record_after(job_id: str) -> int:
    with redis.Redis.from_url(os.environ["DSP_REDIS_URL"]) as client:
        return int(client.incr(f"dsp:{job_id}:after"))


@job("dsp.nap", queue="default", payload=Nap)
async def nap(ctx: JobContext, data: Nap) -> int:
    """Runs one step, sleeps, then a second step: a job to cancel while it waits."""
    await ctx.run("first", record_run, ctx.job_id, ctx.engine)
    await ctx.sleep("nap", data.seconds)
    return await ctx.run("second", record_after, ctx.job_id)


def fail_unless_allowed(job_id: str, engine: str) -> int:
    """The second step: counts its runs, and fails until ``dsp:{job_id}:ok`` is set."""
    with redis.Redis.from_url(os.environ["DSP_REDIS_URL"]) as client:
        n = int(client.rpush(f"dsp:{job_id}:second", engine))
        if not client.exists(f"dsp:{job_id}:ok"):
            raise RuntimeError(f"not allowed yet (run {n})")
    return n


@job("dsp.flaky", queue="default", payload=Ping, retries=0)
async def flaky(ctx: JobContext, data: Ping) -> int:
    """A first step that always succeeds, then one that fails until a test allows it."""
    await ctx.run("first", record_run, ctx.job_id, ctx.engine)
    return await ctx.run("second", fail_unless_allowed, ctx.job_id, ctx.engine)
