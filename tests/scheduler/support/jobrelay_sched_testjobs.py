"""A job for the scheduler tests: each run appends its tick and times to a log file.

The file, not Redis, holds the side effects, so they are counted even while
Redis is down. With ``SCHED_TEST_CODE_SCHEDULE`` set (``id:log path``), the
job also declares a one-second code schedule, so only the processes that
set it (the tests' scheduler processes) fire it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from jobrelay.job_engine import JobContext, Schedule, job
from pydantic import BaseModel


class Record(BaseModel):
    log: str
    hold_s: float = 0.0


def append(path: str, line: dict[str, object]) -> None:
    # One short write with O_APPEND: lines of concurrent runs do not mix.
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


async def hold_and_append(
    path: str, job_id: str, tick: float | None, engine: str, hold_s: float
) -> bool:
    started = time.time()
    await asyncio.sleep(hold_s)
    append(
        path,
        {"job_id": job_id, "tick": tick, "engine": engine, "start": started, "end": time.time()},
    )
    return True


def _code_schedules() -> list[Schedule]:
    spec = os.environ.get("SCHED_TEST_CODE_SCHEDULE")
    if not spec:
        return []
    schedule_id, path = spec.split(":", 1)
    return [Schedule(id=schedule_id, every=1, payload={"log": path}, catchup="none")]


@job("sched.record", queue="default", retries=0, schedules=_code_schedules())
async def record(ctx: JobContext, data: Record) -> bool:
    tick = ctx.scheduled_at.timestamp() if ctx.scheduled_at else None
    result: bool = await ctx.run(
        "append", hold_and_append, data.log, ctx.job_id, tick, ctx.engine, data.hold_s
    )
    return result
