"""The job of bench/pickup_bench.py: its one step records how long after dispatch it began.

Found by the workers through PYTHONPATH (bench/) and JOBRELAY_JOB_MODULES; the
bench imports it too, so its dispatcher knows the job. Results go to the hash
``PICKUP_KEY`` on ``PICKUP_REDIS_URL``.
"""

from __future__ import annotations

import os
import time

import redis
from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel

JOB = "bench.pickup"
PICKUP_KEY = "bench:pickup"


class Stamp(BaseModel):
    tag: str
    dispatched_at: float


def record_start(tag: str, dispatched_at: float) -> float:
    """The step: seconds from dispatch to now, stored under ``tag``."""
    waited = time.time() - dispatched_at
    with redis.Redis.from_url(os.environ["PICKUP_REDIS_URL"]) as client:
        client.hset(PICKUP_KEY, tag, repr(waited))
    return waited


@job(JOB, queue="default", retries=0)
async def pickup(ctx: JobContext, data: Stamp) -> float:
    """One step, the first thing the job does: when it began, against the dispatch."""
    return await ctx.run("start", record_start, data.tag, data.dispatched_at)
