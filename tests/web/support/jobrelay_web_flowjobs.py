"""A flow-controlled job for the dashboard tests: one at a time per key, held until allowed.

Its step holds its slot until the test sets ``{key}:ok`` in the session Redis
(``WEB_TEST_REDIS_URL``), so a second job with the same key waits for a slot
for as long as the test looks at it.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import redis
from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel

# Long past any wait of the test: a step nobody releases ends (failing) on its own.
_HOLD_AT_MOST_S = 240.0


class Held(BaseModel):
    key: str
    ref: str


def hold_until_allowed(key: str) -> str:
    """Wait until ``{key}:ok`` exists, polling the session Redis."""
    deadline = time.monotonic() + _HOLD_AT_MOST_S
    with redis.Redis.from_url(os.environ["WEB_TEST_REDIS_URL"]) as client:
        while not client.exists(f"{key}:ok"):
            if time.monotonic() > deadline:
                raise RuntimeError("never allowed")
            time.sleep(0.05)
    return "released"


@job(
    "web.limited",
    queue="default",
    payload=Held,
    concurrency_limit=1,
    concurrency_key="key",
    rate_limit="600/m",
    unique_for=timedelta(minutes=5),
    unique_key="ref",
    retries=0,
)
async def limited(ctx: JobContext, data: Held) -> str:
    """One at a time per key; a second dispatch with its ``ref`` within 5 min is the first."""
    return await ctx.run("hold", hold_until_allowed, data.key)
