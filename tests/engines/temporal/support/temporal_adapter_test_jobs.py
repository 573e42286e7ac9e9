"""Jobs for the Temporal adapter tests.

A module of its own on ``sys.path`` (not a test module): the workflow sandbox
and the step activity import it by name, as they would a user's job package.
Steps count their side effects in Redis, so a test sees exactly how often
each one ran, whichever thread or worker ran it.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

import redis
import redis.asyncio as aredis
from jobrelay.job_engine import JobContext, PermanentError, job
from pydantic import BaseModel

HOOK_REDIS_ENV = "TRT_HOOK_REDIS_URL"


class Probe(BaseModel):
    redis_url: str
    key: str


class Counts(BaseModel):
    values: list[int]
    attempt: int = 1


def bump(probe: Probe, step: str) -> int:
    """Sync step (runs in a thread): count one run of ``step``."""
    client = redis.Redis.from_url(probe.redis_url)
    try:
        return int(client.hincrby(probe.key, step, 1))
    finally:
        client.close()


async def abump(probe: Probe, step: str) -> int:
    """Async step: count one run of ``step``."""
    client = aredis.Redis.from_url(probe.redis_url)
    try:
        return int(await client.hincrby(probe.key, step, 1))
    finally:
        await client.aclose()


def flaky(probe: Probe, step: str, failures: int) -> int:
    """Fails its first ``failures`` runs, then succeeds."""
    runs = bump(probe, step)
    if runs <= failures:
        raise RuntimeError(f"flaky failure {runs}")
    return runs


def always_fails(probe: Probe, step: str) -> int:
    bump(probe, step)
    raise RuntimeError("still broken")


def refuse(probe: Probe, step: str) -> int:
    bump(probe, step)
    raise PermanentError("bad input: retrying cannot help")


async def wait_for_release(probe: Probe, step: str) -> int:
    """Counts its start, then blocks until the test sets ``{key}:release``."""
    runs = await abump(probe, step)
    client = aredis.Redis.from_url(probe.redis_url)
    try:
        # Polls another process's flag: nothing in this loop could set an Event.
        while not await client.exists(f"{probe.key}:release"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    return runs


def note_failure(job_id: str, error: str) -> None:
    """on_failure hook: count its runs and keep the error."""
    client = redis.Redis.from_url(os.environ[HOOK_REDIS_ENV])
    try:
        client.hincrby(f"hook:{job_id}", "runs", 1)
        client.hset(f"hook:{job_id}", "error", error)
    finally:
        client.close()


@job("trt.three_steps")
async def three_steps(ctx: JobContext, data: Probe) -> Counts:
    one = await ctx.run("one", bump, data, "one")
    two = await ctx.run("two", abump, data, "two")
    three = await ctx.run("three", bump, data, "three")
    return Counts(values=[one, two, three], attempt=ctx.attempt)


@job("trt.flaky", retries=4, min_backoff_s=0.05, max_backoff_s=0.1)
async def flaky_job(ctx: JobContext, data: Probe) -> Counts:
    before = await ctx.run("before", bump, data, "before")
    runs = await ctx.run("flaky", flaky, data, "flaky", 2)
    after = await ctx.run("after", bump, data, "after")
    return Counts(values=[before, runs, after], attempt=ctx.attempt)


@job(
    "trt.exhausted",
    retries=1,
    min_backoff_s=0.05,
    max_backoff_s=0.1,
    on_failure=note_failure,
)
async def exhausted(ctx: JobContext, data: Probe) -> int:
    await ctx.run("before", bump, data, "before")
    return await ctx.run("broken", always_fails, data, "broken")


@job("trt.permanent", retries=5, min_backoff_s=0.05, max_backoff_s=0.1)
async def permanent(ctx: JobContext, data: Probe) -> int:
    return await ctx.run("refuse", refuse, data, "refuse")


@job("trt.sleeper", queue="scheduled")
async def sleeper(ctx: JobContext, data: Probe) -> Counts:
    before = await ctx.run("before", bump, data, "before")
    ctx.progress(10, "napping")
    await ctx.sleep("nap", timedelta(hours=1))
    after = await ctx.run("after", bump, data, "after")
    return Counts(values=[before, after])


@job("trt.clock")
async def clock_reader(ctx: JobContext, data: Probe) -> float:
    await ctx.run("before", bump, data, "before")
    stamp = time.time()  # deliberately non-deterministic: the sandbox must refuse it
    await ctx.run("after", bump, data, "after")
    return stamp


@job("trt.wall_clock")
async def wall_clock_reader(ctx: JobContext, data: Probe) -> str:
    await ctx.run("before", bump, data, "before")
    stamp = datetime.now(UTC).isoformat()  # deliberately non-deterministic as well
    await ctx.run("after", bump, data, "after")
    return stamp


def unserialisable(probe: Probe, step: str) -> object:
    bump(probe, step)
    return object()


@job("trt.bad_result", retries=5, min_backoff_s=0.05, max_backoff_s=0.1)
async def bad_result(ctx: JobContext, data: Probe) -> None:
    await ctx.run("odd", unserialisable, data, "odd")


@job("trt.blocker")
async def blocker(ctx: JobContext, data: Probe) -> Counts:
    ctx.progress(40, "waiting for release")
    waited = await ctx.run("wait", wait_for_release, data, "wait")
    done = await ctx.run("done", bump, data, "done")
    ctx.progress(90, "released")
    return Counts(values=[waited, done])


@job("trt.nap_after_release", queue="scheduled")
async def nap_after_release(ctx: JobContext, data: Probe) -> int:
    waited = await ctx.run("wait", wait_for_release, data, "wait")
    await ctx.sleep("nap", timedelta(hours=1))
    return waited
