"""Jobs for the flow-control tests, on both engines.

Each job's one step records when it ran: a JSON span (job, engine, label,
start, end) pushed to ``flowt:{run}:spans`` on ``FLOWT_REDIS_URL``, the
session Redis, where the test and worker subprocesses see it. Overlap and
pacing are measured from these, the steps' own times.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import redis
from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel


class Span(BaseModel):
    run: str
    key: str = "k"
    hold_s: float = 0.0
    label: str = ""


def spans_key(run: str) -> str:
    return f"flowt:{run}:spans"


def record_span(run: str, job_id: str, engine: str, label: str, hold_s: float) -> float:
    """The step: hold for ``hold_s``, then record when it started and ended."""
    started = time.time()
    if hold_s:
        time.sleep(hold_s)
    span = {"job_id": job_id, "engine": engine, "label": label, "pid": os.getpid()}
    span["start"] = started
    span["end"] = time.time()
    with redis.Redis.from_url(os.environ["FLOWT_REDIS_URL"]) as client:
        client.rpush(spans_key(run), json.dumps(span))
    return started


async def _span(ctx: JobContext, data: Span) -> float:
    return await ctx.run(
        "span", record_span, data.run, ctx.job_id, ctx.engine, data.label, data.hold_s
    )


@job("flowt.limited", concurrency_limit=2, concurrency_key="key", retries=0)
async def limited(ctx: JobContext, data: Span) -> float:
    """At most two at a time per key."""
    return await _span(ctx, data)


@job("flowt.single", concurrency_limit=1, concurrency_key="key", retries=0)
async def single(ctx: JobContext, data: Span) -> float:
    """One at a time per key."""
    return await _span(ctx, data)


@job("flowt.paced", rate_limit="10/s", rate_key="key", retries=0)
async def paced(ctx: JobContext, data: Span) -> float:
    """Ten starts a second per key, at most."""
    return await _span(ctx, data)


@job("flowt.plain", retries=0)
async def plain(ctx: JobContext, data: Span) -> float:
    """No flow control: the benchmark's baseline, and priorities."""
    return await _span(ctx, data)


@job("flowt.unique", unique_for=timedelta(seconds=3), unique_key="key", retries=0)
async def unique(ctx: JobContext, data: Span) -> float:
    """One job per key in the 3 s after its first dispatch."""
    return await _span(ctx, data)


def _key_or_fail(data: Span) -> str:
    if not data.key:
        raise ValueError("an empty key")
    return data.key


@job("flowt.keyed_by_function", concurrency_limit=1, concurrency_key=_key_or_fail, retries=0)
async def keyed_by_function(ctx: JobContext, data: Span) -> float:
    """Its key is a function of the payload, which refuses an empty key."""
    return await _span(ctx, data)


@job("flowt.napper", concurrency_limit=1, concurrency_key="key", rate_limit="5/s", retries=0)
async def napper(ctx: JobContext, data: Span) -> float:
    """A step, a sleep (its slot given up meanwhile), a step: for the replay test."""
    await ctx.run("before", record_span, data.run, ctx.job_id, ctx.engine, "before", data.hold_s)
    await ctx.sleep("nap", 0.3)
    return await ctx.run("after", record_span, data.run, ctx.job_id, ctx.engine, "after", 0.0)
