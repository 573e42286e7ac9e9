"""Jobs of bench/fallback_bench.py: K trivial steps, run by ``jobrelay-worker temporal``.

The worker finds this module through PYTHONPATH (bench/) and
JOBRELAY_JOB_MODULES; the bench process imports it too, so the dispatcher
knows the job names. The workflow sandbox imports it like any job module.
"""

from __future__ import annotations

from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel

ASYNC_JOB = "bench.fallback.async_steps"
SYNC_JOB = "bench.fallback.sync_steps"


class Steps(BaseModel):
    steps: int = 1
    token: str = ""


async def touch_async(token: str) -> str:
    return token


def touch_sync(token: str) -> str:
    return token


@job(ASYNC_JOB, queue="default")
async def async_steps(ctx: JobContext, data: Steps) -> str:
    """``data.steps`` steps of a trivial async function; returns ``data.token``."""
    token = data.token
    for i in range(data.steps):
        token = await ctx.run(f"step-{i}", touch_async, token)
    return token


@job(SYNC_JOB, queue="default")
async def sync_steps(ctx: JobContext, data: Steps) -> str:
    """``data.steps`` steps of a trivial sync function (run in a thread); returns ``data.token``."""
    token = data.token
    for i in range(data.steps):
        token = await ctx.run(f"step-{i}", touch_sync, token)
    return token
