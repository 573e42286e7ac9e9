"""Jobs for the Dramatiq adapter tests.

Every step counts its side effect in Redis (``DTEST_REDIS_URL``) under
``dtest:{job_id}:{step}``, where both the test and a worker subprocess see it.
"""

from __future__ import annotations

import asyncio
import os
import time

import redis
from jobrelay.job_engine import JobContext, PermanentError, job
from pydantic import BaseModel


class Probe(BaseModel):
    fail_times: int = 0
    gate: bool = False
    sleep_s: float = 0.0


def _client() -> redis.Redis:
    return redis.Redis.from_url(os.environ["DTEST_REDIS_URL"])


def key(job_id: str, name: str) -> str:
    return f"dtest:{job_id}:{name}"


def count(job_id: str, step: str) -> int:
    """A side effect: one more on the step's counter."""
    with _client() as client:
        return int(client.incr(key(job_id, step)))


def count_after_gate(job_id: str, step: str) -> int:
    """Blocks until the test opens the gate, then counts (so a kill here leaves no count).

    It marks ``{step}-waiting`` first, so a test can tell the step is in flight.
    """
    with _client() as client:
        client.set(key(job_id, f"{step}-waiting"), "yes")  # not a digit: counts() skips it
        deadline = time.monotonic() + 60
        while not client.exists(key(job_id, "gate")):
            if time.monotonic() > deadline:
                raise TimeoutError("gate never opened")
            time.sleep(0.02)
        return int(client.incr(key(job_id, step)))


async def flaky(job_id: str, fail_times: int) -> int:
    """Fails its first ``fail_times`` calls."""
    calls = count(job_id, "flaky-calls")
    if calls <= fail_times:
        raise RuntimeError(f"flaky failure {calls}")
    return calls


def refuse(job_id: str) -> None:
    count(job_id, "refuse-calls")
    raise PermanentError("the remote side said no")


def record_failure(job_id: str, error: str) -> None:
    with _client() as client:
        client.incr(key(job_id, "on-failure"))
        client.set(key(job_id, "on-failure-error"), error)


@job("dtest.three_steps", queue="default", retries=2, min_backoff_s=0.05)
async def three_steps(ctx: JobContext, data: Probe) -> dict[str, int]:
    one = await ctx.run("one", count, ctx.job_id, "one")
    ctx.progress(33, "one done")
    step_two = count_after_gate if data.gate else count
    two = await ctx.run("two", step_two, ctx.job_id, "two")
    ctx.progress(66, "two done")
    three = await ctx.run("three", count, ctx.job_id, "three")
    return {"one": one, "two": two, "three": three}


@job(
    "dtest.flaky",
    queue="default",
    retries=3,
    min_backoff_s=0.05,
    max_backoff_s=0.2,
    on_failure=record_failure,
)
async def flaky_job(ctx: JobContext, data: Probe) -> int:
    await ctx.run("one", count, ctx.job_id, "one")
    calls = await ctx.run("flaky", flaky, ctx.job_id, data.fail_times)
    await ctx.run("three", count, ctx.job_id, "three")
    return calls


@job("dtest.permanent", queue="default", retries=3, on_failure=record_failure)
async def permanent_job(ctx: JobContext, data: Probe) -> None:
    await ctx.run("one", count, ctx.job_id, "one")
    await ctx.run("refuse", refuse, ctx.job_id)


@job("dtest.sleeper", queue="scheduled", retries=2)
async def sleeper(ctx: JobContext, data: Probe) -> int:
    await ctx.run("before", count, ctx.job_id, "before")
    await ctx.sleep("nap", data.sleep_s)
    return await ctx.run("after", count, ctx.job_id, "after")


@job("dtest.quick", queue="scheduled")
async def quick(ctx: JobContext, data: Probe) -> int:
    return await ctx.run("one", count, ctx.job_id, "one")


async def stall(job_id: str, seconds: float) -> None:
    count(job_id, "stall-calls")
    await asyncio.sleep(seconds)


@job("dtest.slow", queue="default", retries=1, min_backoff_s=0.05, time_limit_s=0.3)
async def slow(ctx: JobContext, data: Probe) -> None:
    await ctx.run("stall", stall, ctx.job_id, 30.0)


@job("dtest.opaque", queue="default", retries=3)
async def opaque(ctx: JobContext, data: Probe) -> object:
    count(ctx.job_id, "runs")
    return object()


@job("dtest.slow_retry", queue="default", retries=1, min_backoff_s=3, max_backoff_s=3)
async def slow_retry(ctx: JobContext, data: Probe) -> int:
    """Fails its first attempt; the retry waits 3 s in the worker's delay queue."""
    return await ctx.run("flaky", flaky, ctx.job_id, data.fail_times)


class FileProbe(BaseModel):
    path: str


def note(path: str, step: str) -> str:
    """A side effect kept outside Redis, so it survives Redis going away: one line per run."""
    if step == "two":
        gate = f"{path}.gate"
        deadline = time.monotonic() + 60
        while not os.path.exists(gate):
            if time.monotonic() > deadline:
                raise TimeoutError("gate never opened")
            time.sleep(0.02)
    with open(path, "a") as out:
        out.write(f"{step}\n")
    return step


@job("dtest.file_steps", queue="default", retries=2, min_backoff_s=0.05)
async def file_steps(ctx: JobContext, data: FileProbe) -> list[str]:
    """Three steps noting their runs in a file; step two waits for ``<path>.gate``."""
    return [await ctx.run(step, note, data.path, step) for step in ("one", "two", "three")]


def gated_hook(job_id: str, result: object) -> None:
    """A success hook that waits for the test's gate, then counts its run."""
    count_after_gate(job_id, "hook")


@job("dtest.gated_hook", queue="default", on_success=gated_hook)
async def gated_hook_job(ctx: JobContext, data: Probe) -> int:
    return await ctx.run("one", count, ctx.job_id, "one")
