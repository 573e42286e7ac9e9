"""Jobs of bench/flow_bench.py: one trivial job with a keyed concurrency limit, one without.

The bench imports this module from bench/ (its own directory); the Temporal
worker's sandbox imports it like any job module.
"""

from __future__ import annotations

from jobrelay.job_engine import JobContext, job
from pydantic import BaseModel

PLAIN_JOB = "bench.flow_plain"
KEYED_JOB = "bench.flow_keyed"


class Keyed(BaseModel):
    key: str


@job(PLAIN_JOB, queue="default")
async def flow_plain(ctx: JobContext, data: Keyed) -> None:
    """Does nothing."""
    return None


# A limit no job waits on (100 keys, 1000 each): what costs is the bookkeeping.
@job(KEYED_JOB, queue="default", concurrency_limit=1000, concurrency_key="key")
async def flow_keyed(ctx: JobContext, data: Keyed) -> None:
    """Does nothing, under a keyed concurrency limit."""
    return None
