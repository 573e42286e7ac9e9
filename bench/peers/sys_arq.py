"""arq: an async function on arq's own Redis connection."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from arq.connections import RedisSettings
from touch_common import DONE, LATENCY, URL


async def arq_touch(ctx: dict[str, Any], i: int, t: float) -> None:
    started = time.time()
    pipe = ctx["redis"].pipeline(transaction=False)
    pipe.incr(DONE)
    if t:
        pipe.hset(LATENCY, str(i), repr(started - t))
    await pipe.execute()


class WorkerSettings:
    functions: ClassVar[list[Any]] = [arq_touch]
    redis_settings = RedisSettings.from_dsn(URL)
    queue_name = "peers"
    max_jobs = 8
    keep_result = 0
