"""Jobs for worker tests. Worker subprocesses find this module through
PYTHONPATH and JOBRELAY_JOB_MODULES; side effects are counted in Redis
(``WRK_REDIS_URL``) because the jobs run in other processes."""

from __future__ import annotations

import os
import time
from functools import cache

import redis
from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel

# Lua: count one more runner and keep the highest count seen.
_ENTER = """
local now = redis.call('INCR', KEYS[1])
local top = tonumber(redis.call('GET', KEYS[2]) or '0')
if now > top then redis.call('SET', KEYS[2], now) end
return now
"""


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(os.environ["WRK_REDIS_URL"])


class Work(BaseModel):
    key: str
    seconds: float = 0.0
    # Hold until the test sets ``{key}:gate`` instead of for ``seconds``: a
    # test that must cut a step mid-way cannot rely on a step's duration
    # outlasting a loaded machine.
    gated: bool = False


def _hold(client: redis.Redis, key: str, seconds: float, gated: bool) -> None:
    if not gated:
        time.sleep(seconds)
        return
    deadline = time.monotonic() + 60
    while not client.exists(f"{key}:gate"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{key}:gate never opened")
        time.sleep(0.02)


def overlap(key: str, seconds: float, gated: bool = False) -> int:
    """Hold a slot for ``seconds`` and record the most slots held at once."""
    client = _client()
    client.rpush(f"{key}:pids", os.getpid())
    client.eval(_ENTER, 2, f"{key}:running", f"{key}:max")
    try:
        _hold(client, key, seconds, gated)
    finally:
        client.decr(f"{key}:running")
    return int(client.incr(f"{key}:done"))


def mark(key: str, name: str) -> int:
    """Count one execution of step ``name`` and note the process that ran it."""
    client = _client()
    client.rpush(f"{key}:pids:{name}", os.getpid())
    return int(client.incr(f"{key}:{name}"))


def slow(key: str, seconds: float, gated: bool = False) -> int:
    """A step that takes ``seconds`` (or waits for the gate), counted when it starts and ends."""
    client = _client()
    client.rpush(f"{key}:pids:slow", os.getpid())
    client.incr(f"{key}:slow_started")
    _hold(client, key, seconds, gated)
    return int(client.incr(f"{key}:slow_done"))


@job("wrk.overlap_default", queue="default", retries=0)
async def overlap_default(ctx: JobContext, data: Work) -> int:
    return int(await ctx.run("overlap", overlap, data.key, data.seconds, data.gated))


@job("wrk.overlap_data_sync", queue="data_sync", retries=0)
async def overlap_data_sync(ctx: JobContext, data: Work) -> int:
    return int(await ctx.run("overlap", overlap, data.key, data.seconds, data.gated))


@job("wrk.overlap_scheduled", queue="scheduled", retries=0)
async def overlap_scheduled(ctx: JobContext, data: Work) -> int:
    return int(await ctx.run("overlap", overlap, data.key, data.seconds, data.gated))


@job("wrk.three_steps", queue="default", retries=3)
async def three_steps(ctx: JobContext, data: Work) -> str:
    """first (quick) -> slow (``seconds``) -> last (quick)."""
    await ctx.run("first", mark, data.key, "first")
    await ctx.run("slow", slow, data.key, data.seconds, data.gated)
    await ctx.run("last", mark, data.key, "last")
    return "done"


@job("wrk.noop", queue="default")
async def noop(ctx: JobContext, data: Work) -> None:
    return None


@job("wrk.napper", queue="default")
async def napper(ctx: JobContext, data: Work) -> str:
    """before -> a sleep long enough to park in Redis -> after."""
    await ctx.run("before", mark, data.key, "before")
    await ctx.sleep("nap", data.seconds)
    await ctx.run("after", mark, data.key, "after")
    return "rested"


def refuse(key: str) -> int:
    mark(key, "refused")
    raise RuntimeError("refused on purpose")


@job("wrk.refuser", queue="default", retries=1, min_backoff_s=0.05, max_backoff_s=0.05)
async def refuser(ctx: JobContext, data: Work) -> None:
    await ctx.run("refuse", refuse, data.key)


def tally(key: str, member: str) -> int:
    """Count one more run of ``member`` in the hash ``key``."""
    return int(_client().hincrby(key, member, 1))


@job("wrk.tally", queue="default")
async def tally_job(ctx: JobContext, data: Work) -> int:
    """One step: count this job's run, so a test sees each job ran exactly once."""
    return await ctx.run("tally", tally, data.key, ctx.job_id)
