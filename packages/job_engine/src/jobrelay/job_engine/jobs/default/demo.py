"""``demo.countdown``: a job with no external I/O, for ``jobrelay dev`` and smoke checks."""

from __future__ import annotations

from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel, Field


class CountdownIn(BaseModel):
    start: int = Field(3, ge=1, le=100)
    pause_s: float = Field(0.2, ge=0, le=60)


class CountdownOut(BaseModel):
    counted: list[int]


def tick(n: int) -> int:
    return n


@job("demo.countdown", queue="default", retries=2)
async def countdown(ctx: JobContext, data: CountdownIn) -> CountdownOut:
    counted: list[int] = []
    for i, n in enumerate(range(data.start, 0, -1)):
        counted.append(await ctx.run(f"tick-{n}", tick, n))
        ctx.progress(int(100 * (i + 1) / data.start), f"counted {n}")
        if data.pause_s:
            await ctx.sleep(f"pause-{n}", data.pause_s)
    return CountdownOut(counted=counted)
