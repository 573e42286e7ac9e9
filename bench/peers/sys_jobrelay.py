"""jobrelay: the same body inside one ``ctx.run`` step, as its rules require of side effects."""

from __future__ import annotations

from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel
from touch_common import touch


class Touch(BaseModel):
    i: int
    t: float = 0.0


@job("peers.touch", queue="default", payload=Touch, retries=0)
async def jobrelay_touch(ctx: JobContext, data: Touch) -> None:
    await ctx.run("touch", touch, data.i, data.t)
