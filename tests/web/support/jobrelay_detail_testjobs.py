"""A job for the job-detail tests: its second step fails the first time it runs.

The steps count their runs in the session Redis (``DETAIL_TEST_REDIS_URL``),
under the payload's ``key``, so a test can tell how often each ran.
"""

from __future__ import annotations

import os

import redis
from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel


class Once(BaseModel):
    key: str
    size: int = 3000


def _count(key: str, step: str) -> int:
    with redis.Redis.from_url(os.environ["DETAIL_TEST_REDIS_URL"]) as client:
        return int(client.incr(f"{key}:{step}"))


def fetch(key: str) -> int:
    return _count(key, "fetch")


def fail_first_time(key: str) -> str:
    if _count(key, "flaky") == 1:
        raise RuntimeError("the first try fails")
    return "done"


def big_text(size: int) -> str:
    return "x" * size


@job(
    "detail.flaky_once",
    queue="default",
    payload=Once,
    retries=2,
    min_backoff_s=0.1,
    max_backoff_s=0.2,
)
async def flaky_once(ctx: JobContext, data: Once) -> dict[str, object]:
    fetched = await ctx.run("fetch", fetch, data.key)
    done = await ctx.run("flaky", fail_first_time, data.key)
    big = await ctx.run("big", big_text, data.size)
    return {"fetched": fetched, "done": done, "size": len(big)}
