"""A job for the web tests that fails until the test allows it (``{key}:ok`` in Redis)."""

from __future__ import annotations

import os

import redis
from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel


class Gate(BaseModel):
    key: str


def pass_if_allowed(key: str) -> str:
    with redis.Redis.from_url(os.environ["WEB_TEST_REDIS_URL"]) as client:
        client.incr(f"{key}:runs")
        if not client.exists(f"{key}:ok"):
            raise RuntimeError("not allowed yet")
    return "passed"


@job("web.gated", queue="default", payload=Gate, retries=0)
async def gated(ctx: JobContext, data: Gate) -> str:
    return await ctx.run("gate", pass_if_allowed, data.key)
